"""Exact integer PCM I/O and the integer-only conversions."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import synth

from trilobyte.core import audio


@pytest.mark.parametrize("container", ["WAV", "FLAC", "AIFF"])
@pytest.mark.parametrize("bit_depth", [8, 16, 24])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_exact_round_trip(tmp_path: Path, container: str, bit_depth: int, channels: int) -> None:
    samples = synth(3000, channels, bit_depth)
    path = tmp_path / f"x.{container.lower()}"
    audio.write_pcm(path, samples, 44100, bit_depth, container)
    back, info = audio.read_pcm(path)
    assert info.bit_depth == bit_depth and info.channels == channels and info.num_samples == 3000
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, samples)


def _wav_data_chunk(path: Path) -> bytes:
    data = path.read_bytes()
    pos = 12
    while pos < len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"data":
            return data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def test_24bit_values_are_unshifted_file_values(tmp_path: Path) -> None:
    samples = np.array([[-(1 << 23)], [(1 << 23) - 1], [1], [-1], [0x123456]], dtype=np.int32)
    path = tmp_path / "x.wav"
    audio.write_pcm(path, samples, 96000, 24)
    raw = _wav_data_chunk(path)
    from_bytes = [int.from_bytes(raw[i : i + 3], "little", signed=True) for i in range(0, len(raw), 3)]
    assert from_bytes == samples[:, 0].tolist()
    back, _ = audio.read_pcm(path)
    assert back[:, 0].tolist() == from_bytes


def test_8bit_wav_is_unsigned_on_disk(tmp_path: Path) -> None:
    samples = np.array([[-128], [0], [127]], dtype=np.int32)
    path = tmp_path / "x.wav"
    audio.write_pcm(path, samples, 8000, 8)
    assert _wav_data_chunk(path) == bytes([0, 128, 255])
    back, info = audio.read_pcm(path)
    assert info.bit_depth == 8 and back[:, 0].tolist() == [-128, 0, 127]


def test_linear_conversion_keeps_top_bits() -> None:
    s16 = np.array([-32768, -257, -256, -1, 0, 255, 256, 32767], dtype=np.int32)
    assert audio.to_linear8(s16, 16).tolist() == [-128, -2, -1, -1, 0, 0, 1, 127]
    s24 = np.array([-(1 << 23), (1 << 23) - 1, 0x00FFFF, -0x010000], dtype=np.int32)
    assert audio.to_linear(s24, 24, 16).tolist() == [-32768, 32767, 0xFF, -0x100]
    with pytest.raises(ValueError, match="without inventing"):
        audio.to_linear(s16, 16, 24)


def test_mulaw_matches_the_formula_on_every_16bit_value() -> None:
    s = np.arange(-32768, 32768, dtype=np.int32)
    codes = audio.to_mulaw8(s, 16)
    # reference: the continuous formula in float64 (only here, to check the integer table)
    x = s / 32768.0
    y = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
    expected = np.floor((y + 1) / 2 * 255 + 0.5).astype(np.int64) - 128
    np.testing.assert_array_equal(codes, expected)
    assert codes.dtype == np.int32
    assert audio.to_mulaw8(np.array([0, 32767, -32768]), 16).tolist() == [0, 127, -128]
    assert np.all(np.diff(codes) >= 0)


def test_mulaw_24bit_agrees_with_16bit_on_the_top_bits() -> None:
    s16 = np.arange(-32768, 32768, 7, dtype=np.int32)
    # a 24-bit sample whose top 16 bits are s16 and low byte 0 maps to the same code
    np.testing.assert_array_equal(audio.to_mulaw8(s16 << 8, 24), audio.to_mulaw8(s16, 16))


def test_mulaw_expansion_inverts_the_code() -> None:
    codes = np.arange(-128, 128, dtype=np.int32)
    np.testing.assert_array_equal(audio.to_mulaw8(audio.from_mulaw8(codes, 16), 16), codes)


def test_convert_rejects_unknown_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="unknown conversion"):
        audio.convert(np.zeros(4, np.int32), 16, 8, "alaw")
    with pytest.raises(ValueError, match="exceed"):
        audio.to_linear8(np.array([40000], np.int32), 16)


def _write_float(path: Path) -> None:
    sf.write(str(path), np.zeros(100, dtype=np.float32), 8000, subtype="FLOAT")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _write_float(p), "float and 32-bit"),
        (lambda p: sf.write(str(p), np.zeros(100, np.int32), 8000, subtype="PCM_32"), "32-bit"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"this is not audio at all" * 10), "not a readable"),
    ],
)
def test_unreadable_files_give_clear_errors(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(audio.AudioError, match=message) as err:
        audio.read_pcm(path)
    assert str(path) in str(err.value)


def test_truncated_wav_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    audio.write_pcm(path, synth(5000, 2, 16), 16000, 16)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1001])
    with pytest.raises(audio.AudioError, match="truncated"):
        audio.read_pcm(path)


def test_truncated_flac_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    audio.write_pcm(path, synth(50000, 1, 16), 16000, 16, "FLAC")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(audio.AudioError, match="truncated or corrupt"):
        audio.read_pcm(path)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(audio.AudioError, match="no such file"):
        audio.read_pcm(tmp_path / "nope.wav")
    ogg = tmp_path / "x.ogg"
    sf.write(str(ogg), np.zeros(2000, np.float32), 16000, format="OGG")
    with pytest.raises(audio.AudioError, match=r"unsupported container|not 8, 16 or 24-bit"):
        audio.read_pcm(ogg)
