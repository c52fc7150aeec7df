"""FLAC streams of every legal shape, read by libFLAC exactly as ``flac -d`` decodes them, and refusals.

Edge files are made here: with the ``flac`` command line, with libFLAC's encoder (through the FLAC
coder), and, for what neither encoder writes (variable block size, explicit wasted bits, mid-stream
changes), by a small frame writer that follows RFC 9639 with verbatim subframes.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import synth

from baselines.flac import codec as flac_codec
from baselines.flac.codec import FlacSettings
from trilobyte.core import audio, libflac

FLAC_CLI = shutil.which("flac")
needs_flac_cli = pytest.mark.skipif(FLAC_CLI is None, reason="the flac command line (Debian package flac) is needed")


# -- References: what `flac -d` makes of a file --------------------------------------------------


def flac_d(path: Path) -> np.ndarray | None:
    """``flac -d``'s samples of a file (its WAV output, read field by field), or None when it refuses."""
    wav = path.with_name(path.name + ".flac-d.wav")
    out = subprocess.run([FLAC_CLI, "-d", "-s", "-f", "-o", str(wav), str(path)], capture_output=True, timeout=60)
    if out.returncode != 0:
        return None
    data, pos, chunks = wav.read_bytes(), 12, {}
    wav.unlink()
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks[tag] = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    fmt = chunks[b"fmt "]
    _, channels, _, _, block_align, container_bits = struct.unpack("<HHIIHH", fmt[:16])
    valid_bits = struct.unpack("<H", fmt[18:20])[0] if len(fmt) >= 24 else container_bits
    width = block_align // channels
    raw = np.frombuffer(chunks[b"data"], np.uint8).reshape(-1, width).astype(np.int64)
    values = sum(raw[:, i] << (8 * i) for i in range(width))
    wrap = 128 if width == 1 else 1 << (8 * width - 1)  # 8-bit WAV is unsigned
    values = values - 128 if width == 1 else np.where(values >= wrap, values - 2 * wrap, values)
    return (values >> (8 * width - valid_bits)).reshape(-1, channels).astype(np.int32)


def flac_d_raw(path: Path, channels: int, bits: int) -> np.ndarray:
    """``flac -d``'s raw output (for a stream with no STREAMINFO, whose WAV output flac 1.4 garbles)."""
    args = [FLAC_CLI, "-d", "-s", "-c", "--force-raw-format", "--endian=little", "--sign=signed", str(path)]
    out = subprocess.run(args, capture_output=True, timeout=60, check=True)
    return np.frombuffer(out.stdout, {8: "i1", 16: "<i2", 32: "<i4"}[bits]).reshape(-1, channels).astype(np.int32)


def flac_cli(raw: np.ndarray, bits: int, rate: int, *options: str, pipe: bool = False) -> bytes:
    """Encode interleaved little-endian PCM with the flac command line (``pipe``: stdin to stdout)."""
    dtype = {8: "i1", 16: "<i2", 32: "<i4"}.get(bits)
    if dtype:
        body = raw.astype(dtype).tobytes()
    else:  # 24-bit
        b = raw.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        body = b.tobytes()
    args = [FLAC_CLI, "-s", "--force-raw-format", "--endian=little", "--sign=signed",
            f"--channels={raw.shape[1]}", f"--bps={bits}", f"--sample-rate={rate}", *options, "-", "-c"]
    out = subprocess.run(args, input=body, capture_output=True, timeout=60, check=True)
    assert pipe or out.stdout[:4] == b"fLaC"
    return out.stdout


# -- A minimal FLAC writer (verbatim subframes) for shapes the encoders never produce ---------------


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


class _Bits:
    def __init__(self) -> None:
        self.value, self.count = 0, 0

    def put(self, value: int, width: int) -> None:
        self.value = (self.value << width) | (value & ((1 << width) - 1))
        self.count += width

    def bytes(self) -> bytes:
        pad = -self.count % 8
        return (self.value << pad).to_bytes((self.count + pad) // 8, "big")


def _coded_number(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    length = next(k for k in range(2, 8) if n < 1 << (5 * k + 1))
    tail = [0x80 | ((n >> (6 * i)) & 0x3F) for i in reversed(range(length - 1))]
    lead = ((0xFF00 >> length) & 0xFF) | (n >> (6 * (length - 1)))
    return bytes([lead, *tail])


RATE_CODES = {8000: 4, 16000: 5, 22050: 6, 24000: 7, 32000: 8, 44100: 9, 48000: 10, 96000: 11}
DEPTH_CODES = {8: 1, 12: 2, 16: 4, 20: 5, 24: 6, 32: 7}


def verbatim_frame(samples: np.ndarray, bits: int, rate: int, number: int, variable: bool, wasted: int = 0) -> bytes:
    """One frame: explicit rate and depth, independent channels, verbatim subframes."""
    n, channels = samples.shape
    head = _Bits()
    head.put(0b11111111111110, 14)
    head.put(0, 1)
    head.put(int(variable), 1)
    head.put(0b0111, 4)  # block size - 1 in 16 bits after the number
    head.put(RATE_CODES[rate], 4)
    head.put(channels - 1, 4)
    head.put(DEPTH_CODES[bits], 3)
    head.put(0, 1)
    header = head.bytes() + _coded_number(number) + struct.pack(">H", n - 1)
    header += bytes([_crc8(header)])
    body = _Bits()
    for c in range(channels):
        body.put(0, 1)
        body.put(0b000001, 6)
        body.put(int(wasted > 0), 1)
        if wasted:
            body.put(1, wasted)  # unary: wasted - 1 zeros, then a one
        for s in samples[:, c]:
            body.put(int(s) >> wasted, bits - wasted)
    frame = header + body.bytes()
    return frame + struct.pack(">H", _crc16(frame))


def md5_of(samples: np.ndarray, bits: int) -> bytes:
    """STREAMINFO's MD5: interleaved little-endian samples, (bits + 7) // 8 bytes each."""
    width = (bits + 7) // 8
    values = samples.astype(np.int64).reshape(-1) & ((1 << (8 * width)) - 1)
    raw = np.stack([(values >> (8 * i)) & 0xFF for i in range(width)], axis=1).astype(np.uint8)
    return hashlib.md5(raw.tobytes()).digest()


def streaminfo(min_block: int, max_block: int, rate: int, channels: int, bits: int, total: int, md5: bytes) -> bytes:
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | total
    body = struct.pack(">HH", min_block, max_block) + b"\0" * 6 + packed.to_bytes(8, "big") + md5
    return b"fLaC" + bytes([0x80, 0, 0, 34]) + body


def handmade(blocks: list[np.ndarray], bits: int, rate: int, variable: bool = True, wasted: int = 0,
             total: int | None = None, md5: bool = True) -> bytes:
    """A stream of verbatim frames, one per block (blocks may differ in length)."""
    samples = np.concatenate(blocks)
    sizes = [b.shape[0] for b in blocks]
    info = streaminfo(min(sizes), max(sizes), rate, blocks[0].shape[1], bits,
                      samples.shape[0] if total is None else total, md5_of(samples, bits) if md5 else bytes(16))
    frames, start = b"", 0
    for i, block in enumerate(blocks):
        frames += verbatim_frame(block, bits, rate, start if variable else i, variable, wasted)
        start += block.shape[0]
    return info + frames


# -- Edge files read exactly as flac -d decodes them ----------------------------------------------


def read_bytes(tmp_path: Path, name: str, data: bytes) -> tuple[Path, np.ndarray, audio.AudioInfo]:
    path = tmp_path / name
    path.write_bytes(data)
    samples, info = audio.read_pcm(path)
    return path, samples, info


@needs_flac_cli
def test_unknown_length_through_a_pipe_reads_exactly(tmp_path: Path) -> None:
    pcm = synth(30000, 2, 16)
    data = flac_cli(pcm, 16, 44100, pipe=True)
    assert libflac.read_stream_header(data).total_samples == 0  # what a pipe leaves in STREAMINFO
    path, samples, info = read_bytes(tmp_path, "pipe.flac", data)
    np.testing.assert_array_equal(samples, pcm)
    np.testing.assert_array_equal(samples, flac_d(path))
    assert audio.probe(path).num_samples == info.num_samples == 30000


@needs_flac_cli
@pytest.mark.parametrize("bits", [12, 20])
def test_12_and_20_bit_read_at_their_own_depth(tmp_path: Path, bits: int) -> None:
    pcm = synth(6000, 2, bits)
    path, samples, info = read_bytes(tmp_path, f"d{bits}.flac", flac_codec.encode(pcm, 48000, bits, FlacSettings(5)))
    assert info.bit_depth == audio.probe(path).bit_depth == bits
    np.testing.assert_array_equal(samples, pcm)
    np.testing.assert_array_equal(samples, flac_d(path))
    assert samples.min() == -(1 << (bits - 1)) and samples.max() == (1 << (bits - 1)) - 1


@pytest.mark.parametrize("bits", [4, 5, 7, 8, 12, 16, 20, 23, 24, 31, 32])
def test_every_depth_from_4_to_32_round_trips_through_libflac(tmp_path: Path, bits: int) -> None:
    pcm = synth(3000, 1, bits, seed=bits)
    _, samples, info = read_bytes(tmp_path, "x.flac", flac_codec.encode(pcm, 16000, bits, FlacSettings(5)))
    assert info.bit_depth == bits
    np.testing.assert_array_equal(samples, pcm)


@needs_flac_cli
@pytest.mark.parametrize(("blocksize", "options"), [(16, ()), (65535, ("--lax",))])
def test_extreme_block_sizes(tmp_path: Path, blocksize: int, options: tuple[str, ...]) -> None:
    pcm = synth(70000 if blocksize > 16 else 5000, 1, 16)
    data = flac_cli(pcm, 16, 96000, f"--blocksize={blocksize}", *options)
    path, samples, _ = read_bytes(tmp_path, "b.flac", data)
    np.testing.assert_array_equal(samples, pcm)
    np.testing.assert_array_equal(samples, flac_d(path))


@needs_flac_cli
def test_eight_channels_and_wasted_bits(tmp_path: Path) -> None:
    pcm = synth(8000, 8, 16)
    path, samples, info = read_bytes(tmp_path, "ch8.flac", flac_cli(pcm, 16, 48000))
    assert info.channels == 8
    np.testing.assert_array_equal(samples, pcm)
    np.testing.assert_array_equal(samples, flac_d(path))
    shifted = (synth(8000, 2, 13) << 3).astype(np.int32)  # three zero low bits: libFLAC codes them as wasted
    path, samples, _ = read_bytes(tmp_path, "wasted.flac", flac_cli(shifted, 16, 48000))
    np.testing.assert_array_equal(samples, shifted)
    np.testing.assert_array_equal(samples, flac_d(path))


@needs_flac_cli
@pytest.mark.parametrize("wasted", [0, 5])
def test_variable_block_size_stream(tmp_path: Path, wasted: int) -> None:
    pcm = (synth(1000, 2, 20 - wasted) << wasted).astype(np.int32)
    cuts = [0, 17, 300, 301, 700, 1000]
    blocks = [pcm[a:b] for a, b in itertools.pairwise(cuts)]
    path, samples, info = read_bytes(tmp_path, "var.flac", handmade(blocks, 20, 44100, wasted=wasted))
    assert info.bit_depth == 20
    np.testing.assert_array_equal(samples, pcm)
    np.testing.assert_array_equal(samples, flac_d(path))


@needs_flac_cli
def test_id3v2_before_flac_is_skipped_and_junk_is_refused(tmp_path: Path) -> None:
    pcm = synth(5000, 1, 16)
    data = flac_cli(pcm, 16, 16000)
    tag = b"ID3\x03\x00\x00" + bytes([0, 0, 0, 20]) + b"\0" * 20
    path, samples, _ = read_bytes(tmp_path, "id3.flac", tag + data)
    np.testing.assert_array_equal(samples, pcm)
    np.testing.assert_array_equal(samples, flac_d(path))
    junk = tmp_path / "junk.flac"
    junk.write_bytes(b"RIFX junk before the marker" + data)
    assert flac_d(junk) is None  # flac -d refuses it (lost sync) unless told -F
    with pytest.raises(audio.AudioError, match=r"27 unparsable byte\(s\) come before the 'fLaC' marker") as err:
        audio.read_pcm(junk)
    assert str(junk) in str(err.value)
    datasets_row = audio.AudioError  # probe refuses it the same way (a failed row when listed)
    with pytest.raises(datasets_row, match="fLaC"):
        audio.probe(junk)


@needs_flac_cli
def test_stream_starting_at_a_frame_header_reads_as_flac_d_does(tmp_path: Path) -> None:
    pcm = synth(9000, 2, 16)
    data = flac_cli(pcm, 16, 44100)
    frames = data[flac_codec.parse_layout(data).frames_offset :]
    path, samples, info = read_bytes(tmp_path, "frames.flac", frames)
    np.testing.assert_array_equal(samples, pcm)
    np.testing.assert_array_equal(samples, flac_d_raw(path, 2, 16))
    assert (info.sample_rate, info.channels, info.bit_depth) == (44100, 2, 16)


def test_md5_mismatch_is_a_corrupt_file(tmp_path: Path) -> None:
    pcm = synth(4000, 1, 16)
    data = bytearray(flac_codec.encode(pcm, 16000, 16, FlacSettings(5)))
    assert any(data[26:42])  # libFLAC set the MD5
    data[30] ^= 0x01
    path = tmp_path / "md5.flac"
    path.write_bytes(bytes(data))
    with pytest.raises(audio.AudioError, match="MD5") as err:
        audio.read_pcm(path)
    assert str(path) in str(err.value)
    if FLAC_CLI:
        assert flac_d(path) is None


def test_odd_depth_md5_is_checked(tmp_path: Path) -> None:
    pcm = synth(900, 1, 12)
    good = handmade([pcm[:500], pcm[500:]], 12, 8000)
    read_bytes(tmp_path, "ok.flac", good)
    bad = handmade([pcm[:500], pcm[500:]], 12, 8000, md5=False)
    bad = bad[:26] + md5_of(pcm + 1 - 2 * (pcm > 0), 12) + bad[42:]
    (tmp_path / "bad.flac").write_bytes(bad)
    with pytest.raises(audio.AudioError, match="MD5"):
        audio.read_pcm(tmp_path / "bad.flac")


@pytest.mark.parametrize(
    ("second", "what"),
    [
        (lambda b: (b[:, :1], 16, 44100), "channels 2 -> 1"),
        (lambda b: (b, 16, 48000), "sample rate 44100 -> 48000"),
        (lambda b: (b >> 4, 12, 44100), "bit depth 16 -> 12"),
    ],
)
def test_mid_stream_changes_are_refused(tmp_path: Path, second, what: str) -> None:
    pcm = synth(2000, 2, 16)
    first = handmade([pcm[:1000]], 16, 44100, total=0, md5=False)
    block, bits, rate = second(pcm[1000:])
    path = tmp_path / "change.flac"
    path.write_bytes(first + verbatim_frame(block, bits, rate, 1000, True))
    with pytest.raises(audio.AudioError, match=f"mid-stream at sample 1000 .*{what}") as err:
        audio.read_pcm(path)
    assert str(path) in str(err.value)


def test_first_frame_disagreeing_with_streaminfo_is_refused(tmp_path: Path) -> None:
    pcm = synth(1000, 1, 16)
    data = streaminfo(1000, 1000, 44100, 1, 24, 1000, bytes(16)) + verbatim_frame(pcm, 16, 44100, 0, False)
    (tmp_path / "x.flac").write_bytes(data)
    with pytest.raises(audio.AudioError, match=r"disagrees with STREAMINFO .*bit depth 24 -> 16"):
        audio.read_pcm(tmp_path / "x.flac")


def test_unknown_length_stream_cut_inside_a_frame_is_refused(tmp_path: Path) -> None:
    pcm = synth(20000, 1, 16)
    data = handmade([pcm[:8000], pcm[8000:16000], pcm[16000:]], 16, 16000, total=0, md5=False)
    path = tmp_path / "cut.flac"
    path.write_bytes(data[:-100])
    with pytest.raises(audio.AudioError, match="truncated or corrupt"):
        audio.read_pcm(path)
    with pytest.raises(audio.AudioError, match="truncated or corrupt"):
        audio.probe(path)
    path.write_bytes(data[:-100] + bytes(100))  # the cut frame's bytes are there, its end is not
    with pytest.raises(audio.AudioError, match="truncated or corrupt"):
        audio.read_pcm(path)


def test_a_frame_count_never_sizes_memory(tmp_path: Path) -> None:
    """STREAMINFO claiming 2**36 - 1 samples is refused after decoding what is there, without a huge array."""
    pcm = synth(3000, 1, 16)
    data = handmade([pcm], 16, 16000, variable=False, total=(1 << 36) - 1, md5=False)
    path = tmp_path / "liar.flac"
    path.write_bytes(data)
    assert audio.probe(path).num_samples == (1 << 36) - 1  # the header's word, before reading
    with pytest.raises(audio.AudioError, match=r"promises 68719476735 samples, 3000 decoded"):
        audio.read_pcm(path)


def test_decoded_size_is_bounded(tmp_path: Path) -> None:
    pcm = synth(4000, 2, 16)
    data = handmade([pcm[:2000], pcm[2000:]], 16, 16000, total=0, md5=False)
    with pytest.raises(libflac.FlacDecodeError, match="more than 5000 sample values"):
        libflac.decode_flac(data, max_values=5000)


# -- Through the FLAC sweep -------------------------------------------------------------------------


def _sweep(folder: Path, out: Path) -> tuple[int, object]:
    from baselines.flac.sweep import main
    from trilobyte.core.results import ResultStore

    argv = ["--dataset", str(folder), "--levels", "5", "--disable-subframes", "none", "--out", str(out),
            "--no-progress", "--jobs", "1"]
    status = main(argv)
    return status, ResultStore(out).find(folder.name, "flac", "level5")


@needs_flac_cli
def test_sweep_codes_unknown_length_12_20_bit_and_headerless_files(audio_folder: Path, tmp_path: Path) -> None:
    """One pipe-written FLAC used to end the whole sweep ("array is too big") with no result written."""
    stereo = synth(20000, 2, 16)
    (audio_folder / "speaker0" / "pipe.flac").write_bytes(flac_cli(stereo, 16, 44100, pipe=True))
    for speaker, bits in ((1, 12), (2, 20)):
        data = flac_codec.encode(synth(5000, 1, bits), 16000, bits, FlacSettings(5))
        (audio_folder / f"speaker{speaker}" / f"d{bits}.flac").write_bytes(data)
    data = flac_cli(stereo, 16, 44100)
    (audio_folder / "speaker3" / "frames.flac").write_bytes(data[flac_codec.parse_layout(data).frames_offset :])
    status, result = _sweep(audio_folder, tmp_path / "results")
    assert status == 0
    assert result is not None and not result.failures and len(result.ok_files) == 12
    rows = {f.id: f for f in result.files}
    assert rows["speaker0/pipe.flac"].num_samples == 20000
    assert (rows["speaker1/d12.flac"].bit_depth, rows["speaker1/d12.flac"].raw_bits) == (12, 5000 * 12)
    assert (rows["speaker2/d20.flac"].bit_depth, rows["speaker2/d20.flac"].raw_bits) == (20, 5000 * 20)
    assert rows["speaker3/frames.flac"].raw_bits == 20000 * 2 * 16


# -- Fuzz: damaged real files through the reader and the sweep --------------------------------------

REAL_FLAC = Path("/usr/share/sonic-pi/samples/tabla_ke1.flac")  # sonic-pi-samples, CC0
REAL_WAV = Path("/usr/share/asterisk/sounds/en_US_f_Allison/beeperr.wav")  # asterisk-core-sounds-en-wav
MUTANTS_PER_FILE = 1000
SECONDS_PER_FILE = 5.0


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    kind = rng.integers(3)
    if kind == 0:  # flip 1-4 bytes
        out = bytearray(data)
        for pos in rng.integers(0, len(data), rng.integers(1, 5)):
            out[pos] ^= int(rng.integers(1, 256))
        return bytes(out)
    if kind == 1:  # truncate
        return data[: rng.integers(0, len(data))]
    pos = rng.integers(0, len(data) + 1)  # insert 1-64 random bytes
    return data[:pos] + rng.integers(0, 256, rng.integers(1, 65), dtype=np.uint8).tobytes() + data[pos:]


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    missing = [p for p in (REAL_FLAC, REAL_WAV) if not p.exists()]
    if missing:
        pytest.skip(f"{missing[0]} not installed (the demo corpus's Debian packages)")
    folder = tmp_path_factory.mktemp("real")
    samples, _ = audio.read_pcm(REAL_WAV)
    aiff = folder / "beeperr.aiff"
    audio.write_pcm(aiff, samples, 8000, 16, "AIFF")
    return {"flac": REAL_FLAC, "wav": REAL_WAV, "aiff": aiff}


def test_fuzzed_real_files_are_read_exactly_or_refused(real_files: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    outcomes = {"read": 0, "refused": 0}
    for suffix, source in real_files.items():
        original, _ = audio.read_pcm(source)
        data = source.read_bytes()
        path = tmp_path / f"m.{suffix}"
        for _ in range(MUTANTS_PER_FILE):
            path.write_bytes(_mutate(data, rng))
            start = time.perf_counter()
            try:
                audio.probe(path)
                samples, info = audio.read_pcm(path)
            except audio.AudioError as err:
                assert str(path) in str(err)
                outcomes["refused"] += 1
            else:
                outcomes["read"] += 1
                assert samples.dtype == np.int32 and samples.shape == (info.num_samples, info.channels)
                audio.check_range(samples, info.bit_depth)
                if suffix == "flac":  # frame CRCs and the MD5 leave no damaged FLAC readable but wrong
                    np.testing.assert_array_equal(samples, original)
            assert time.perf_counter() - start < SECONDS_PER_FILE
    assert outcomes["read"] > 100 and outcomes["refused"] > 1000


def test_fuzzed_real_files_through_the_flac_sweep(real_files: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    folder = tmp_path / "fuzz"
    readable = set()
    for suffix, source in real_files.items():
        data = source.read_bytes()
        for i in range(15):
            rel = f"{suffix}/m{i:02d}.{suffix}"
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data if i == 0 else _mutate(data, rng))
            try:
                audio.read_pcm(path)
                readable.add(rel)
            except audio.AudioError:
                pass
    _, result = _sweep(folder, tmp_path / "results")
    assert result is not None and len(result.files) == 45
    assert {f.id for f in result.ok_files} == readable  # every readable file coded (and verified), no other
    assert all(f.error for f in result.failures)
    assert 3 <= len(readable) < 45  # the three originals at least; the exit status is tested with the CLIs
