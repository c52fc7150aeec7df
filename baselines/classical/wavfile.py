"""WAV files of any depth from 1 to 24 bits, written and read without libsndfile.

libsndfile writes only 8, 16, 24 and 32-bit WAV. A 12 or 20-bit sample is stored the way the WAV
format defines it: a WAVE_FORMAT_EXTENSIBLE header whose ``wValidBitsPerSample`` is the true depth, the
samples left-justified in 2 or 3 bytes (:func:`baselines.classical.pcm.to_wav_bytes`). WavPack and the
flac command honour that field and code the audio at its own depth; ffmpeg ignores it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from baselines.classical import pcm

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM: the format tag 1 in the first two bytes of the standard base GUID
PCM_SUBFORMAT = struct.pack("<IHH8s", WAVE_FORMAT_PCM, 0x0000, 0x0010, bytes.fromhex("800000aa00389b71"))
# Speaker masks for 1 and 2 channels (front centre; front left and right); 0 (no assignment) for more.
CHANNEL_MASKS = {1: 0x4, 2: 0x3}


class WavError(ValueError):
    """Bytes that are not a PCM WAV file this module reads."""


@dataclass(frozen=True)
class WavData:
    """The samples of a WAV file and what its header says."""

    samples: np.ndarray  # (num_samples, channels) int32
    sample_rate: int
    bit_depth: int  # wValidBitsPerSample (WAVE_FORMAT_EXTENSIBLE) or wBitsPerSample


def wav_bytes(samples: np.ndarray, sample_rate: int, bit_depth: int) -> bytes:
    """A WAVE_FORMAT_EXTENSIBLE file holding ``(num_samples, channels)`` samples at ``bit_depth`` (1 to 24)."""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    channels = samples.shape[1]
    width = pcm.byte_width(bit_depth)
    data = pcm.to_wav_bytes(samples, bit_depth)
    fmt = struct.pack("<HHIIHHHHI", WAVE_FORMAT_EXTENSIBLE, channels, sample_rate, sample_rate * channels * width,
                      channels * width, 8 * width, 22, bit_depth, CHANNEL_MASKS.get(channels, 0)) + PCM_SUBFORMAT
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"data", data)
    return _chunk(b"RIFF", body)


def write_wav(path: Path | str, samples: np.ndarray, sample_rate: int, bit_depth: int) -> None:
    """Write :func:`wav_bytes` to ``path``."""
    Path(path).write_bytes(wav_bytes(samples, sample_rate, bit_depth))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def parse_wav(data: bytes) -> WavData:
    """Read an integer PCM WAV file (plain or WAVE_FORMAT_EXTENSIBLE), 1 to 24 valid bits a sample."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            raise WavError(f"truncated {kind!r} chunk at byte {pos}")
        if kind == b"fmt ":
            fmt = body
        elif kind == b"data":
            payload = body
        pos += 8 + size + size % 2
    if fmt is None or payload is None or len(fmt) < 16:
        raise WavError("no fmt or data chunk")
    tag, channels, rate, _byte_rate, align, container = struct.unpack("<HHIIHH", fmt[:16])
    valid = container
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40 or fmt[24:40] != PCM_SUBFORMAT:
            raise WavError("a WAVE_FORMAT_EXTENSIBLE file whose sub-format is not integer PCM")
        valid = struct.unpack("<H", fmt[18:20])[0]
    elif tag != WAVE_FORMAT_PCM:
        raise WavError(f"format tag {tag:#06x} is not integer PCM")
    if (not channels or container not in (8, 16, 24) or pcm.byte_width(valid) != container // 8
            or align != channels * container // 8):
        raise WavError(f"unsupported layout: {channels} channels, {valid} valid bits in {container}-bit samples")
    try:
        samples = pcm.from_wav_bytes(payload, valid, channels)
    except pcm.PcmError as err:
        raise WavError(str(err)) from err
    return WavData(samples, rate, valid)
