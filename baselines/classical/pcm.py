"""Integer PCM as bytes, laid out exactly as a WAV file's data chunk stores it.

Little-endian, channels interleaved, each sample in ``ceil(bit_depth / 8)`` bytes (1, 2 or 3); 8-bit
samples are offset binary (unsigned, 0x80 = silence) as WAV requires, deeper ones two's complement.
The general-purpose compressors read these bytes, and ffmpeg's raw decoders write them.

Depths between the whole bytes (a 12 or 20-bit FLAC file, 4 to 32 bits in all) use the same layout
with the value right-justified: the sample's own integer, sign-extended, in ``ceil(bit_depth / 8)``
bytes (12-bit in 2, 20-bit in 3, 4-bit in 1, two's complement; only exactly 8-bit is offset binary).
The unused top bits are copies of the sign bit, so the compressors are charged for ``bit_depth``
bits a sample in ``raw_bits`` and see no invented low bits.

A WAV file's data chunk instead holds such depths left-justified (:func:`to_wav_bytes`): the sample
shifted up to fill its bytes, the unused low bits zero, and ``wValidBitsPerSample`` in a
WAVE_FORMAT_EXTENSIBLE header saying how many bits are real (:mod:`baselines.classical.wavfile`).
That is the layout the command-line codecs read and write.
"""

from __future__ import annotations

import numpy as np

from trilobyte.core.audio import check_range

# ffmpeg's name for each WAV data-chunk layout, by bytes a sample (``ffmpeg -f FORMAT``).
FFMPEG_FORMATS = {1: "u8", 2: "s16le", 3: "s24le"}


class PcmError(ValueError):
    """Bytes that do not hold a whole number of frames of the expected layout."""


def byte_width(bit_depth: int) -> int:
    """Bytes per sample: the bit depth rounded up to whole bytes."""
    return (bit_depth + 7) // 8


def to_bytes(samples: np.ndarray, bit_depth: int) -> bytes:
    """Interleaved little-endian bytes of ``(num_samples, channels)`` signed integers."""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    check_range(samples, bit_depth)
    flat = samples.astype("<i4").ravel()
    if bit_depth == 8:
        return (flat + 128).astype(np.uint8).tobytes()
    width = byte_width(bit_depth)
    return np.ascontiguousarray(flat.view(np.uint8).reshape(-1, 4)[:, :width]).tobytes()


def from_bytes(data: bytes, bit_depth: int, channels: int) -> np.ndarray:
    """The inverse of :func:`to_bytes`: signed ``int32`` samples of shape ``(num_samples, channels)``."""
    width = byte_width(bit_depth)
    frame = width * channels
    if len(data) % frame:
        raise PcmError(f"{len(data)} bytes are not a whole number of {channels}-channel {bit_depth}-bit frames")
    raw = np.frombuffer(data, dtype=np.uint8)
    if bit_depth == 8:
        flat = raw.astype(np.int32) - 128
    else:
        padded = np.zeros((raw.size // width, 4), dtype=np.uint8)
        padded[:, :width] = raw.reshape(-1, width)
        # sign-extend: shift the top byte into bit 31, then back down arithmetically
        flat = (padded.view("<i4").ravel() << (32 - 8 * width)) >> (32 - 8 * width)
    return flat.reshape(-1, channels).astype(np.int32)


def to_wav_bytes(samples: np.ndarray, bit_depth: int) -> bytes:
    """A WAV data chunk's bytes: 1 to 24-bit samples left-justified in whole bytes (unsigned in one byte)."""
    if not 1 <= bit_depth <= 24:
        raise ValueError(f"WAV data of {bit_depth}-bit samples is not laid out here (1 to 24 bits)")
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    check_range(samples, bit_depth)
    width = byte_width(bit_depth)
    shifted = samples.astype(np.int32) << (8 * width - bit_depth)
    return to_bytes(shifted, 8 * width)


def from_wav_bytes(data: bytes, bit_depth: int, channels: int) -> np.ndarray:
    """The inverse of :func:`to_wav_bytes`; raises :class:`PcmError` if a sample has bits below ``bit_depth``."""
    width = byte_width(bit_depth)
    wide = from_bytes(data, 8 * width, channels)
    shift = 8 * width - bit_depth
    if shift and np.any(wide & ((1 << shift) - 1)):
        first = int(np.argwhere(wide & ((1 << shift) - 1))[0][0])
        raise PcmError(f"samples with bits set below their {bit_depth}-bit depth (first at sample {first})")
    return wide >> shift
