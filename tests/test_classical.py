"""Classical codecs: WavPack, the flac command, ALAC and TTA through ffmpeg, TOML plug-ins, gzip/bzip2/xz/zstd."""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import io
import json
import logging
import lzma
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import synth

from baselines.classical import containers, pcm
from baselines.classical.cli import build_coders, format_table, main
from baselines.classical.codecs import ALAC, APE, COMMAND_CODECS, FLAC_CLI, SAC, TTA, WAVPACK
from baselines.classical.commands import (
    CodecConfigError,
    CodecUnavailable,
    CommandCodec,
    LosslessError,
    UnsupportedInput,
    load_toml,
    make_coder,
)
from baselines.classical.general import GeneralCoder
from trilobyte.core import audio
from trilobyte.core.datasets import AudioClip, get_dataset
from trilobyte.core.protocol import FileRate, RateResult

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_TOML = ROOT / "baselines" / "classical" / "toml" / "wavpack.toml"
HAS = {name: shutil.which(name) is not None for name in ("wavpack", "wvunpack", "flac", "ffmpeg", "sox", "zstd")}
needs_wavpack = pytest.mark.skipif(not (HAS["wavpack"] and HAS["wvunpack"]),
                                   reason="the Debian package wavpack is not installed")
needs_ffmpeg = pytest.mark.skipif(not HAS["ffmpeg"], reason="the Debian package ffmpeg is not installed")

# Each installed command-line codec with a quick preset, and the depths it must round-trip.
COMMAND_CASES = [
    pytest.param(WAVPACK, "default", marks=needs_wavpack, id="wavpack"),
    pytest.param(FLAC_CLI, "8", marks=pytest.mark.skipif(not HAS["flac"], reason="flac is not installed"),
                 id="flac-cli"),
    pytest.param(ALAC, "default", marks=needs_ffmpeg, id="alac"),
    pytest.param(TTA, "default", marks=needs_ffmpeg, id="tta"),
]


def tonal(num_samples: int, channels: int, bit_depth: int, seed: int = 0) -> np.ndarray:
    """Two sines and quiet noise (every codec should compress it), with the full-scale extremes."""
    rng = np.random.default_rng(seed)
    top = (1 << (bit_depth - 1)) - 1
    t = np.arange(num_samples)[:, None]
    wave = 0.4 * top * (np.sin(0.02 * t + np.arange(channels)) + np.sin(0.13 * t))
    samples = np.round(wave + rng.normal(0, 2.0 ** (bit_depth - 10), size=wave.shape)).astype(np.int32)
    samples[0, :], samples[1, :] = -top - 1, top
    return samples


def clip_from(samples: np.ndarray, bit_depth: int, rate: int = 16000, clip_id: str = "x") -> AudioClip:
    return AudioClip(clip_id, Path(clip_id), samples, rate, bit_depth, "test", "g")


def wav_bytes(samples: np.ndarray, rate: int, bit_depth: int) -> bytes:
    buffer = io.BytesIO()
    audio.write_pcm(buffer, samples, rate, bit_depth)
    return buffer.getvalue()


# -- raw PCM bytes -----------------------------------------------------------------------------------


def test_pcm_bytes_known_values() -> None:
    assert pcm.to_bytes(np.array([[-128], [0], [127]]), 8) == bytes([0, 128, 255])
    assert pcm.to_bytes(np.array([[-2, 1]]), 16) == b"\xfe\xff\x01\x00"
    assert pcm.to_bytes(np.array([[-(1 << 23)], [1], [-1]]), 24) == b"\x00\x00\x80\x01\x00\x00\xff\xff\xff"
    assert [pcm.byte_width(d) for d in (8, 16, 24)] == [1, 2, 3]
    with pytest.raises(ValueError, match="16-bit range"):
        pcm.to_bytes(np.array([[1 << 15]]), 16)
    with pytest.raises(pcm.PcmError, match="whole number"):
        pcm.from_bytes(b"\x00" * 5, 24, 2)


@pytest.mark.parametrize("bit_depth", [8, 16, 24])
@pytest.mark.parametrize("channels", [1, 2])
def test_pcm_bytes_are_the_wav_data_chunk(bit_depth: int, channels: int) -> None:
    samples = synth(1001, channels, bit_depth, seed=bit_depth)
    data = pcm.to_bytes(samples, bit_depth)
    assert len(data) == 1001 * channels * bit_depth // 8
    wav = wav_bytes(samples, 8000, bit_depth)
    start = wav.index(b"data") + 8
    (size,) = struct.unpack("<I", wav[start - 4 : start])
    assert wav[start : start + size] == data
    np.testing.assert_array_equal(pcm.from_bytes(data, bit_depth, channels), samples)


# -- command-line codecs -----------------------------------------------------------------------------


@pytest.mark.parametrize(("codec", "preset"), COMMAND_CASES)
@pytest.mark.parametrize("bit_depth", [8, 16, 24])
@pytest.mark.parametrize("channels", [1, 2])
def test_command_codec_round_trips(codec: CommandCodec, preset: str, bit_depth: int, channels: int) -> None:
    clip = clip_from(tonal(6000, channels, bit_depth, seed=channels), bit_depth)
    coder = make_coder(codec, preset)
    if bit_depth not in codec.bit_depths:
        with pytest.raises(UnsupportedInput, match=f"codes 16, 24-bit audio, not {bit_depth}-bit"):
            coder.code_file(clip)
        return
    row = coder.code_file(clip)
    assert row.ok and row.raw_bits == 6000 * channels * bit_depth
    assert row.compressed_bits + row.container_bits == row.extra["file_bytes"] * 8
    assert row.compressed_bits < row.raw_bits  # (TTA adapts slowly to 24-bit audio: barely, on 6000 samples)
    assert row.extra["encode_seconds"] > 0 and row.extra["decode_seconds"] > 0
    assert coder.result_extra()["version"] == coder.version() != ""


def test_depth_support_is_documented_per_codec() -> None:
    assert {name: c.bit_depths for name, c in COMMAND_CODECS.items()} == {
        "wavpack": tuple(range(4, 25)), "flac-cli": (8, 12, 16, 20, 24), "alac": (16, 24), "tta": (8, 16, 24),
        "ape": (8, 16, 24), "optimfrog": (8, 16, 24), "sac": (8, 16)}
    assert "no 8-bit mode" in ALAC.depth_note


@needs_ffmpeg
@needs_wavpack
@pytest.mark.parametrize("codec", [WAVPACK, ALAC, TTA], ids=lambda c: c.name)
def test_real_24bit_clip_round_trips(codec: CommandCodec) -> None:
    dataset = get_dataset("demo-24bit")
    ref = next(r for r in dataset.refs if r.id == "perc_swash.flac")  # 0.3 s, stereo, 24-bit
    clip = dataset.load(ref)
    row = make_coder(codec).code_file(clip)
    assert row.ok and row.bit_depth == 24 and row.channels == 2
    assert 1 < row.rate < 4


@needs_wavpack
def test_wavpack_container_is_the_stored_wav_header() -> None:
    samples = synth(3000, 1, 16)
    row = make_coder(WAVPACK).code_file(clip_from(samples, 16))
    header = len(wav_bytes(samples, 16000, 16)) - samples.size * 2
    # one block: the RIFF header sub-block (2-byte id/size + the header) and the ".wav" extension one (2 + 4)
    assert header == 44
    assert row.container_bits == (2 + header + 2 + 4) * 8


@needs_ffmpeg
def test_tta_container_is_the_seek_table() -> None:
    rate, n = 16000, 40000
    row = make_coder(TTA).code_file(clip_from(synth(n, 2, 16), 16, rate))
    frames = -(-n // containers.tta_frame_length(rate))
    assert frames == 3
    assert row.container_bits == (4 * frames + 4) * 8


@needs_ffmpeg
def test_alac_payload_is_frames_plus_cookie(tmp_path: Path) -> None:
    clip = clip_from(synth(5000, 2, 24), 24)
    row = make_coder(ALAC).code_file(clip)
    assert row.container_bits > 0
    # an independent look at the same file: the mdat body is payload minus the 24-byte cookie
    source, encoded = tmp_path / "in.wav", tmp_path / "out.m4a"
    audio.write_pcm(source, clip.samples, clip.sample_rate, 24)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-nostdin", "-i", str(source), "-map_metadata", "-1",
                    "-fflags", "+bitexact", "-flags:a", "+bitexact", "-c:a", "alac", str(encoded)],
                   check=True, timeout=60)
    data = encoded.read_bytes()
    mdat = data.index(b"mdat") - 4
    (mdat_size,) = struct.unpack(">I", data[mdat : mdat + 4])
    assert row.compressed_bits == (mdat_size - 8 + containers.ALAC_COOKIE_BYTES) * 8
    assert row.extra["file_bytes"] == len(data)


@pytest.mark.skipif(not HAS["flac"], reason="flac is not installed")
def test_flac_cli_padding_and_tags_are_container() -> None:
    row = make_coder(FLAC_CLI, "8").code_file(clip_from(synth(4000, 1, 16), 16))
    assert row.container_bits >= (4 + 8192) * 8  # the flac command's default padding block at least


def test_container_parsers_reject_garbage() -> None:
    for kind in ("wavpack", "mp4-alac", "tta", "flac"):
        with pytest.raises(containers.ContainerError):
            containers.parse(kind, b"RIFF" + bytes(60))
    with pytest.raises(containers.ContainerError, match="unknown container kind"):
        containers.parse("ogg", b"")
    assert containers.parse("whole", b"abc") == containers.Layout(3, 0)


# -- the lossless check, and codecs described by data -------------------------------------------------


def shell_codec(encode: tuple[str, ...], decode: tuple[str, ...], **kwargs) -> CommandCodec:
    return CommandCodec(name="test-codec", title="test codec", extension=".wav", encode=encode, decode=decode,
                        version=("sox", "--version"), **kwargs)


@pytest.mark.skipif(not HAS["sox"], reason="sox is not installed")
def test_a_lossy_decoder_is_caught() -> None:
    codec = shell_codec(("cp", "{input}", "{output}"), ("sox", "{input}", "{output}", "reverse"))
    with pytest.raises(LosslessError, match="not bit-exact"):
        make_coder(codec).code_file(clip_from(synth(2000, 1, 16), 16))


@pytest.mark.parametrize("bit_depth", [8, 16, 24])
def test_identity_codec_counts_the_whole_wav_file(bit_depth: int) -> None:
    codec = shell_codec(("cp", "{input}", "{output}"), ("cp", "{input}", "{output}"))
    samples = synth(2500, 2, bit_depth)
    row = make_coder(codec).code_file(clip_from(samples, bit_depth))
    assert row.compressed_bits == len(wav_bytes(samples, 16000, bit_depth)) * 8 and row.container_bits == 0


def test_a_failing_command_is_a_clear_error() -> None:
    codec = shell_codec(("false", "{input}", "{output}"), ("cp", "{input}", "{output}"))
    with pytest.raises(RuntimeError, match=r"test codec encoder failed \(exit 1\)"):
        make_coder(codec).code_file(clip_from(synth(100, 1, 16), 16))


# A decoder that hangs on the first file it sees (after starting a helper that also hangs, holding the
# pipes) and copies its input on every later one: a codec that stops the run unless it is timed out.
HANGING_DECODER = """
import os, shutil, subprocess, sys, time
marker = sys.argv[3]
if not os.path.exists(marker):
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(marker, "w") as out:
        out.write(str(helper.pid))
    time.sleep(600)
shutil.copy(sys.argv[1], sys.argv[2])
"""


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for a parent that does not reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_hanging_decoder_is_a_timed_out_row_and_the_next_file_is_coded(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name, seed in (("a.wav", 0), ("b.wav", 1)):
        audio.write_pcm(folder / name, synth(1600, 1, 16, seed), 16000, 16)
    script, marker = tmp_path / "decoder.py", tmp_path / "helper.pid"
    script.write_text(HANGING_DECODER)
    plugin = tmp_path / "hang.toml"
    plugin.write_text(f"""name = "hang"
extension = ".wav"
encode = ["cp", "{{input}}", "{{output}}"]
decode = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, "{{input}}", "{{output}}", {json.dumps(str(marker))}]
version = ["cp", "--version"]
""")
    started = time.monotonic()
    status = main(["--codec", str(plugin), "--timeout", "2", "--dataset", str(folder), "--out", str(tmp_path / "out"),
                   "--no-progress", "--no-with-flac"])
    assert time.monotonic() - started < 30
    assert status == 1
    rows = {f["id"]: f for f in json.loads((tmp_path / "out" / "clips" / "hang" / "default.json").read_text())["files"]}
    assert rows["a.wav"]["error"].startswith("CommandTimeout: hang decoder timed out after 2 s (killed")
    assert rows["b.wav"]["error"] is None and rows["b.wav"]["compressed_bits"] > 0
    helper = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper)  # the decoder's own child went with it: the whole process group was killed


def test_the_default_time_limit_follows_the_duration() -> None:
    coder = make_coder(shell_codec(("cp", "{input}", "{output}"), ("cp", "{input}", "{output}")))
    assert coder.time_limit(clip_from(synth(16000, 1, 16), 16)) == 60  # 1 s of audio: the one-minute floor
    assert coder.time_limit(clip_from(synth(16000 * 10, 1, 16), 16)) == 200  # 10 s: 20 x the duration
    assert replace(coder, timeout=7.5).time_limit(clip_from(synth(16000, 1, 16), 16)) == 7.5
    with pytest.raises(CodecConfigError, match="positive number of seconds"):
        replace(coder, timeout=0)
    with pytest.raises(SystemExit):
        main(["--codec", "gzip", "--timeout", "0"])


def test_sac_refuses_24bit_audio_by_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = tmp_path / "sac"  # never run on audio: the depth is refused first
    fake.write_text("#!/bin/sh\necho 'sac test build'\n")
    fake.chmod(0o755)
    coder = make_coder(SAC, binary=fake)
    with pytest.raises(UnsupportedInput, match=r"sac codes 8, 16-bit audio, not 24-bit \(sac reads 1 to 16-bit"):
        coder.check_supported(clip_from(synth(100, 1, 24), 24))
    with pytest.raises(UnsupportedInput, match="sac codes at most 2 channels"):  # its README: mono/stereo
        coder.check_supported(clip_from(synth(100, 3, 16), 16))
    folder = tmp_path / "deep"
    folder.mkdir()
    audio.write_pcm(folder / "a.wav", synth(2000, 1, 24), 48000, 24)
    with caplog.at_level(logging.WARNING):
        status = main(["--codec", "sac", "--binary", str(fake), "--dataset", str(folder), "--out",
                       str(tmp_path / "out"), "--no-progress", "--no-with-flac"])
    assert status == 1
    assert ("sac: skipped for deep: it codes 8, 16-bit audio, this dataset is 24-bit (sac reads 1 to 16-bit"
            in caplog.text)


@needs_wavpack
def test_toml_plugin_matches_the_builtin_wavpack() -> None:
    codec = load_toml(EXAMPLE_TOML)
    assert codec.name == "wavpack-toml" and set(codec.presets) == {"default", "hh"}
    assert codec.bit_depths == (8, 12, 16, 20, 24)
    for bits, preset in ((16, "default"), (16, "hh"), (20, "hh")):
        clip = clip_from(synth(5000, 2, bits), bits)
        plugin = make_coder(codec, preset).code_file(clip)
        builtin = make_coder(WAVPACK, preset).code_file(clip)
        assert plugin.ok and plugin.bit_depth == bits
        assert (plugin.compressed_bits, plugin.container_bits) == (builtin.compressed_bits, builtin.container_bits)
    assert make_coder(codec).result_extra()["version"].startswith("wavpack ")


TOML_BASE = """
name = "mine"
extension = ".x"
version = ["cp", "--version"]
encode = ["cp", "{input}", "{output}"]
decode = "cp {input} {output}"
"""


@pytest.mark.parametrize(("text", "message"), [
    (TOML_BASE, None),
    (TOML_BASE.replace('"cp {input} {output}"', '"cp {input}"'), "decode command has no {output}"),
    (TOML_BASE + 'colour = "red"\n', "unknown key"),
    (TOML_BASE.replace('"{input}", "{output}"]', '"{input}", "{outptu}", "{output}"]'), "unknown placeholder"),
    (TOML_BASE + 'container = "ogg"\n', "container must be one of"),
    (TOML_BASE + 'bit_depths = [8, 12, 20]\n', None),
    (TOML_BASE + 'bit_depths = [32]\n', "bit_depths must be a non-empty set of depths from 4 to 24"),
    (TOML_BASE + 'default_preset = "max"\n', "default preset 'max'"),
    (TOML_BASE + 'output_format = "flac"\n', "output_format must be"),
    (TOML_BASE.replace('name = "mine"\n', ""), "missing key"),
    ("name = [", "not valid TOML"),
])
def test_toml_validation(tmp_path: Path, text: str, message: str | None) -> None:
    path = tmp_path / "codec.toml"
    path.write_text(text)
    if message is None:
        codec = load_toml(path)
        assert codec.decode == ("cp", "{input}", "{output}") and codec.presets == {"default": ()}
        assert make_coder(codec).code_file(clip_from(synth(300, 1, 8), 8)).ok
        if 12 in codec.bit_depths:  # an extensible WAV copied back: read at its declared depth
            assert make_coder(codec).code_file(clip_from(synth(300, 2, 12), 12)).bit_depth == 12
        return
    with pytest.raises(CodecConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        load_toml(path)


# -- missing codecs -----------------------------------------------------------------------------------


def test_missing_command_names_the_debian_package() -> None:
    gone = replace(WAVPACK, encode=("wavpack-not-installed", *WAVPACK.encode[1:]))
    with pytest.raises(CodecUnavailable, match=r"'wavpack-not-installed'.*sudo apt-get install wavpack"):
        make_coder(gone)
    with pytest.raises(CodecUnavailable, match=r"no Debian package provides.*libjmac-java.*--binary PATH"):
        make_coder(APE)


def test_nonexistent_binary_is_a_clear_cli_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        status = main(["--codec", "wavpack", "--binary", "/nonexistent/wavpack", "--dataset", "demo-speech48",
                       "--limit", "1", "--out", str(tmp_path), "--no-progress"])
    assert status == 2
    assert "WavPack: /nonexistent/wavpack is not an executable file" in caplog.text
    with caplog.at_level(logging.ERROR):
        assert main(["--codec", "optimfrog", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "OptimFROG needs its 'ofr' command, which no Debian package provides" in caplog.text


@needs_wavpack
def test_binary_flag_finds_the_decoder_beside_it(tmp_path: Path) -> None:
    coder = make_coder(WAVPACK, binary=shutil.which("wavpack"))
    assert Path(coder.decoder).name == "wvunpack"
    lonely = tmp_path / "wavpack"
    shutil.copy(shutil.which("wavpack"), lonely)
    with pytest.raises(CodecUnavailable, match=r"no 'wvunpack' next to .*pass --decoder-binary"):
        make_coder(WAVPACK, binary=lonely)
    assert make_coder(WAVPACK, binary=lonely, decoder_binary=shutil.which("wvunpack")).decoder.endswith("wvunpack")


def test_unknown_codec_and_preset_are_refused() -> None:
    with pytest.raises(CodecConfigError, match="unknown codec 'mp3'"):
        build_coders("mp3", None)
    with pytest.raises(CodecConfigError, match=r"gzip has no preset\(s\) 12; choose from 1, 6, 9"):
        build_coders("gzip", ["12"])
    with pytest.raises(SystemExit):
        main(["--codec", "gzip", "--preset", "12"])


# -- general-purpose compressors ----------------------------------------------------------------------

ZSTD_BACKENDS = [
    pytest.param("zstandard", marks=pytest.mark.skipif(importlib.util.find_spec("zstandard") is None,
                                                      reason="the zstandard package is not installed")),
    pytest.param("cli", marks=pytest.mark.skipif(not HAS["zstd"], reason="the zstd command is not installed")),
]


@pytest.mark.parametrize("bit_depth", [8, 16, 24])
@pytest.mark.parametrize("channels", [1, 2])
def test_stdlib_compressors_count_exact_stream_sizes(bit_depth: int, channels: int) -> None:
    samples = synth(3000, channels, bit_depth, seed=7)
    data = pcm.to_bytes(samples, bit_depth)
    clip = clip_from(samples, bit_depth)
    expected = {"gzip": gzip.compress(data, 9, mtime=0), "bzip2": bz2.compress(data, 9),
                "xz": lzma.compress(data)}
    for name, stream in expected.items():
        row = GeneralCoder.create(name).code_file(clip)
        assert row.ok and row.compressed_bits == len(stream) * 8 and row.container_bits == 0


def zstd_reference(data: bytes, level: int) -> bytes:
    """The zstd command's own output for ``data``: what the benchmark must count."""
    args = ["zstd", "-q", "-c", *(["--ultra"] if level > 19 else []), f"-{level}"]
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=60).stdout


@pytest.mark.parametrize("backend", ZSTD_BACKENDS)
@pytest.mark.parametrize("bit_depth", [8, 16, 24])
def test_zstd_round_trips(backend: str, bit_depth: int) -> None:
    samples = tonal(3000, 2, bit_depth)
    data, clip = pcm.to_bytes(samples, bit_depth), clip_from(samples, bit_depth)
    for level in (3, 22):
        row = GeneralCoder("zstd", str(level), backend).code_file(clip)
        if backend == "cli":
            expected = len(zstd_reference(data, level))
        else:
            import zstandard

            expected = len(zstandard.ZstdCompressor(level=level).compress(data))
        assert row.ok and row.compressed_bits == expected * 8 and row.container_bits == 0


# -- the command and its table ------------------------------------------------------------------------


@needs_wavpack
def test_cli_on_demo_clips_prints_codecs_beside_flac(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["--codec", "wavpack", "--codec", "gzip", "--codec", str(EXAMPLE_TOML), "--dataset",
                   "demo-speech48", "--limit", "2", "--out", str(tmp_path), "--no-progress"])
    assert status == 0
    table = capsys.readouterr().out
    for label in ("flac -8 (libFLAC)", "wavpack ", "wavpack-toml", "gzip", "enc xRT"):
        assert label in table
    saved = json.loads((tmp_path / "demo-speech48-first2" / "wavpack" / "default.json").read_text())
    assert saved["mode"] == "coded" and saved["extra"]["version"].startswith("wavpack 5")
    assert saved["summary"]["failed_files"] == 0 and len(saved["files"]) == 2
    assert (tmp_path / "demo-speech48-first2" / "flac" / "level8.json").exists()


@needs_ffmpeg
def test_cli_skips_a_codec_that_cannot_hold_the_depth(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "eight"
    folder.mkdir()
    audio.write_pcm(folder / "a.wav", synth(2000, 1, 8), 8000, 8)
    with caplog.at_level(logging.WARNING):
        status = main(["--codec", "alac", "--codec", "tta", "--dataset", str(folder), "--out",
                       str(tmp_path / "out"), "--no-progress", "--no-with-flac"])
    assert status == 1  # alac was asked for and could not run
    assert "alac: skipped for eight: it codes 16, 24-bit audio, this dataset is 8-bit" in caplog.text
    assert (tmp_path / "out" / "eight" / "tta" / "default.json").exists()


def test_table_marks_failed_files() -> None:
    ok = FileRate("a", 1600, 800, 80, 0.1, 1.0, 100, 1, 100, 16, extra={"encode_seconds": 0.5, "decode_seconds": 0.25})
    bad = FileRate.failed("b", "CodecError: boom", 1600)
    result = RateResult("tta", "default", {}, "ds", "f", "all", "native", "linear", "test", "coded", [ok, bad],
                        extra={"version": "ffmpeg version 5"})
    table = format_table([result])
    assert "2.000*" in table and "1.818" in table and "2.0" in table and "4.0" in table
    assert "1 file(s) failed, e.g. b: CodecError: boom" in table
