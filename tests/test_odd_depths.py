"""Audio between the whole-byte depths (12 and 20-bit FLAC, 4 to 32 bits in all) through every method.

Each method either codes the file at its own depth, verified bit-exactly, or refuses it by name with
the reason, as a failed row: never a crash and never a silent conversion.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import synth

from baselines.classical import pcm, wavfile
from baselines.classical.cli import supported_depths
from baselines.classical.codecs import ALAC, FLAC_CLI, TTA, WAVPACK
from baselines.classical.commands import CommandCodec, UnsupportedInput, make_coder
from baselines.classical.general import COMPRESSORS, GeneralCoder
from baselines.flac.codec import FlacSettings, encode
from baselines.flac.coder import FlacCoder
from baselines.llm_incontext.mappings import pcm_to_bytes
from trilobyte.core import audio
from trilobyte.core.datasets import AudioClip, folder_dataset
from trilobyte.core.runner import code_ref
from trilobyte.gpt2.tokenize import TokenizeError, TokenizerSettings


def clip_of(bits: int, channels: int = 2, n: int = 4000, samples: np.ndarray | None = None) -> AudioClip:
    samples = synth(n, channels, bits, seed=bits) if samples is None else samples
    return AudioClip(f"d{bits}", Path(f"d{bits}.flac"), samples, 44100, bits, "test", "g")


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "odd"
    for i, bits in enumerate((12, 20, 12, 20)):
        (folder / f"g{i}").mkdir(parents=True)
        data = encode(synth(3000 + i, 1 + i % 2, bits, seed=i), 44100, bits, FlacSettings(5))
        (folder / f"g{i}" / f"c{i}.flac").write_bytes(data)
    return folder


def test_a_12_bit_file_is_read_at_12_bits(odd_folder: Path) -> None:
    """libsndfile refused 12 and 20-bit FLAC ("unimplemented format"); libFLAC reads them exactly."""
    ds = folder_dataset(odd_folder)
    assert [r.error for r in ds.refs] == [None] * 4
    clip = ds.load(ds.refs[0])
    assert clip.bit_depth == 12 and clip.raw_bits == clip.samples.size * 12
    np.testing.assert_array_equal(clip.samples, synth(3000, 1, 12, seed=0))
    assert clip.samples.min() >= -2048 and clip.samples.max() <= 2047


@pytest.mark.parametrize("bits", [4, 12, 20, 32])
def test_flac_codes_odd_depths_at_their_own_depth(bits: int) -> None:
    clip = clip_of(bits)
    row = FlacCoder(FlacSettings(5)).code_file(clip)
    assert row.ok and row.bit_depth == bits and row.raw_bits == clip.samples.size * bits


@pytest.mark.parametrize("compressor", sorted(COMPRESSORS))
@pytest.mark.parametrize("bits", [12, 20])
def test_general_compressors_code_odd_depths_right_justified(compressor: str, bits: int) -> None:
    clip = clip_of(bits, n=2000)
    data = pcm.to_bytes(clip.samples, bits)
    assert len(data) == clip.samples.size * pcm.byte_width(bits)
    width = pcm.byte_width(bits)
    first = int.from_bytes(data[:width], "little", signed=True)
    assert first == clip.samples[0, 0] == -(1 << (bits - 1))  # the value itself, sign-extended, not shifted up
    coder = GeneralCoder.create(compressor)
    assert bits in supported_depths(coder)  # not skipped for a dataset of such files
    row = coder.code_file(clip)
    assert row.ok and row.raw_bits == clip.samples.size * bits


needs = {tool: pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed")
         for tool in ("wavpack", "flac", "ffmpeg")}


@needs["wavpack"]
@needs["flac"]
@pytest.mark.parametrize("codec", [WAVPACK, FLAC_CLI], ids=lambda c: c.name)
@pytest.mark.parametrize("bits", [12, 20])
@pytest.mark.parametrize("channels", [1, 2])
def test_command_line_codecs_code_odd_depths_at_their_own_depth(codec: CommandCodec, bits: int, channels: int) -> None:
    """Coded and decoded bit-exactly, at the rate of the same values held in 4 more bits (no invented bits)."""
    samples = synth(4000, channels, bits, seed=bits)
    row = make_coder(codec).code_file(clip_of(bits, channels, samples=samples))
    assert row.ok and row.bit_depth == bits and row.raw_bits == samples.size * bits
    assert row.compressed_bits + row.container_bits == row.extra["file_bytes"] * 8
    wider = make_coder(codec).code_file(clip_of(bits + 4, channels, samples=samples))
    assert row.compressed_bits < row.raw_bits
    assert abs(row.compressed_bits / wider.compressed_bits - 1) < 0.01


@needs["wavpack"]
@needs["flac"]
@pytest.mark.parametrize("bits", [12, 20])
def test_wavpack_and_flac_record_the_true_depth_of_an_extensible_wav(tmp_path: Path, bits: int) -> None:
    samples = synth(2000, 2, bits, seed=1)
    source = tmp_path / "in.wav"
    wavfile.write_wav(source, samples, 44100, bits)
    subprocess.run(["flac", "-s", "-f", "-o", str(tmp_path / "x.flac"), str(source)], check=True, timeout=60)
    decoded, info = audio.read_pcm(tmp_path / "x.flac")  # libFLAC: STREAMINFO's depth
    assert info.bit_depth == bits
    np.testing.assert_array_equal(decoded, samples)
    subprocess.run(["wavpack", "-q", "-y", str(source), "-o", str(tmp_path / "x.wv")], check=True, timeout=60)
    summary = subprocess.run(["wvunpack", "-s", str(tmp_path / "x.wv")], capture_output=True, text=True,
                             timeout=60).stdout
    assert f"{bits}-bit ints" in summary


@needs["wavpack"]
@needs["ffmpeg"]
@pytest.mark.parametrize("bits", [12, 20])
def test_raw_decoder_output_of_an_odd_depth_is_left_justified(bits: int) -> None:
    """ffmpeg decodes WavPack's 12-bit stream to s16le with the sample in the top 12 bits, as WAV stores it."""
    via_ffmpeg = dataclasses.replace(WAVPACK, name="wavpack-ffmpeg", decode=(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", "{input}", "-f", "{raw_format}",
        "{output}"), output_format="raw")
    assert make_coder(via_ffmpeg).code_file(clip_of(bits, n=3000)).ok


@needs["ffmpeg"]
@needs["flac"]
@pytest.mark.parametrize(("codec", "bits", "reason"), [
    (ALAC, 20, "ALAC encoder codes only 16 or 24-bit samples: it ignores a WAV file's wValidBitsPerSample"),
    (ALAC, 12, "would code 20-bit audio as 24-bit"),
    (TTA, 12, "TTA encoder codes only 8, 16 or 24-bit samples: it ignores a WAV file's wValidBitsPerSample"),
    (TTA, 20, "would code 12 or 20-bit audio as 16 or 24-bit"),
    (FLAC_CLI, 6, "streamable subset, whose frame headers name only 8, 12, 16, 20 and 24 bits"),
], ids=lambda v: getattr(v, "name", str(v))[:12])
def test_codecs_that_cannot_hold_a_depth_refuse_it_with_the_reason(codec: CommandCodec, bits: int, reason: str) -> None:
    with pytest.raises(UnsupportedInput, match=rf"not {bits}-bit \(.*{re.escape(reason)}"):
        make_coder(codec).code_file(clip_of(bits))


@needs["wavpack"]
@needs["ffmpeg"]
def test_odd_depths_in_the_runner_are_coded_or_failed_rows(odd_folder: Path) -> None:
    ds = folder_dataset(odd_folder)
    coders = [FlacCoder(FlacSettings(5)), make_coder(WAVPACK), make_coder(ALAC)]
    flac_row, wavpack_row, alac_row = code_ref(ds, coders, ds.refs[0], [0, 1, 2])
    assert flac_row.ok and flac_row.bit_depth == 12
    assert wavpack_row.ok and wavpack_row.bit_depth == 12 and wavpack_row.raw_bits == 3000 * 12
    assert not alac_row.ok and "not 12-bit" in alac_row.error and "wValidBitsPerSample" in alac_row.error
    assert alac_row.raw_bits == 3000 * 12


@pytest.mark.parametrize("bits", [4, 7, 8, 12, 16, 20, 24])
@pytest.mark.parametrize("channels", [1, 3])
def test_extensible_wav_round_trips_left_justified(bits: int, channels: int) -> None:
    samples = synth(500, channels, bits, seed=bits)
    data = wavfile.wav_bytes(samples, 32000, bits)
    width = pcm.byte_width(bits)
    fmt_tag, ch, rate, _, align, container, _, valid = struct.unpack("<HHIIHHHH", data[20:40])
    assert (fmt_tag, ch, rate, align, container, valid) == (0xFFFE, channels, 32000, channels * width, 8 * width, bits)
    first = int.from_bytes(data[68 : 68 + width], "little", signed=width > 1) - (128 if width == 1 else 0)
    assert first == samples[0, 0] << (8 * width - bits)  # left-justified, as WAV stores it
    back = wavfile.parse_wav(data)
    assert back.bit_depth == bits and back.sample_rate == 32000
    np.testing.assert_array_equal(back.samples, samples)


def test_extensible_wav_with_bits_below_its_depth_is_refused() -> None:
    data = bytearray(wavfile.wav_bytes(synth(100, 1, 12), 8000, 12))
    data[68] |= 1  # the lowest bit of the first 12-bit sample, which must be zero
    with pytest.raises(wavfile.WavError, match="bits set below their 12-bit depth"):
        wavfile.parse_wav(bytes(data))


@pytest.mark.parametrize("bits", [12, 20])
def test_trilobyte_tokens_refuse_odd_depths_with_the_reason(bits: int) -> None:
    with pytest.raises(TokenizeError, match=rf"byte tokens need 8, 16 or 24-bit audio .*this file is {bits}-bit"):
        TokenizerSettings("bytes", 24).check_depth(bits)


def test_in_context_llm_refuses_odd_depths_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"need 8, 16 or 24-bit audio .*this file is 12-bit"):
        pcm_to_bytes(synth(100, 1, 12), 12)


def test_audio_conversions_accept_odd_source_depths() -> None:
    s12 = synth(1000, 1, 12)
    np.testing.assert_array_equal(audio.to_linear8(s12, 12), s12 >> 4)
    assert audio.to_mulaw8(s12, 12).min() == -128 and audio.to_mulaw8(s12, 12).max() == 127
    with pytest.raises(ValueError, match="libsndfile writes 8, 16 or 24-bit"):
        audio.write_pcm(io_target := Path("/nonexistent/x.wav"), s12, 8000, 12)
    assert not io_target.exists()
