"""The NAC baselines' file format: header, packed codes, EnCodec scales, Rice-coded residual.

Version 1, every field counted in the file's size::

    magic "TNAC" (4 bytes) | version (1) | model fingerprint (8) | codebooks (1) | flags (1; bit 0: resampled
    to the model's rate, bit 1: per-block gains present) | block size in file samples (4) | sample rate (4) |
    samples per channel (4) | channels (1) | bit depth (1)                          -> 29 bytes of header
    codes: every block's codes, (group, block, codebook, frame) order, ceil(log2(codebook size)) bits
           each, MSB first, zero-padded to a whole byte
    scales: one big-endian float16 gain per (group, block), when flag bit 1 is set
    residual: the residual of every channel, channel after channel, as one baselines.rice.encode_blocks
              stream (sections of RICE_BLOCK samples, partition orders up to MAX_PARTITION_ORDER)

The decoder takes the block layout from the header and the model (its hop length and rate), so the
codes need no lengths; the fingerprint makes a decoder with other weights refuse the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

# Depths a NAC stream holds: the model sees x / 2**(depth-1) in float32, exact up to 24 bits.
MIN_DEPTH, MAX_DEPTH = 4, 24
MAGIC = b"TNAC"
VERSION = 1
HEADER = struct.Struct(">4sB8sBBIIIBB")
RICE_BLOCK = 4096
MAX_PARTITION_ORDER = 8
FLAG_RESAMPLED = 1
FLAG_SCALED = 2


class NacStreamError(ValueError):
    """A file that is not a NAC stream of this version, or is cut short or corrupt."""


@dataclass(frozen=True)
class Header:
    fingerprint: str  # 16 hex digits
    codebooks: int
    resampled: bool
    scaled: bool
    block_size: int
    sample_rate: int
    num_samples: int
    channels: int
    bit_depth: int

    def pack(self) -> bytes:
        flags = (FLAG_RESAMPLED if self.resampled else 0) | (FLAG_SCALED if self.scaled else 0)
        return HEADER.pack(MAGIC, VERSION, bytes.fromhex(self.fingerprint), self.codebooks, flags, self.block_size,
                           self.sample_rate,
                           self.num_samples, self.channels, self.bit_depth)

    @classmethod
    def unpack(cls, data: bytes) -> Header:
        if len(data) < HEADER.size:
            raise NacStreamError(f"a NAC stream starts with a {HEADER.size}-byte header; got {len(data)} bytes")
        magic, version, fp, books, flags, block, rate, n, ch, depth = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise NacStreamError("not a NAC stream (no 'TNAC' magic)")
        if version != VERSION:
            raise NacStreamError(f"NAC stream version {version}; this reader knows version {VERSION}")
        if flags & ~(FLAG_RESAMPLED | FLAG_SCALED):
            raise NacStreamError(f"unknown NAC stream flags {flags:#04x}")
        if not (books and block and rate and ch and MIN_DEPTH <= depth <= MAX_DEPTH):
            raise NacStreamError("NAC stream header holds an impossible value")
        return cls(fp.hex(), books, bool(flags & FLAG_RESAMPLED), bool(flags & FLAG_SCALED), block, rate, n, ch,
                   depth)


def code_width(codebook_size: int) -> int:
    """Bits per code: ceil(log2(codebook size))."""
    return max(1, int(codebook_size - 1).bit_length())


def pack_codes(codes: np.ndarray, width: int) -> bytes:
    """Unsigned integers, ``width`` bits each, MSB first, zero-padded to a whole byte."""
    values = np.asarray(codes, dtype=np.int64).ravel()
    if values.size and (values.min() < 0 or values.max() >> width):
        raise ValueError(f"codes must be in 0..{(1 << width) - 1}")
    shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
    bits = ((values[:, None] >> shifts[None, :]) & 1).astype(np.uint8)
    return np.packbits(bits.ravel()).tobytes()


def unpack_codes(data: bytes, count: int, width: int) -> np.ndarray:
    """``count`` codes of ``width`` bits from the start of ``data`` (int64)."""
    need = (count * width + 7) // 8
    if len(data) < need:
        raise NacStreamError("the NAC stream ends inside its codes (truncated)")
    bits = np.unpackbits(np.frombuffer(data, np.uint8, count=need))[: count * width]
    weights = np.int64(1) << np.arange(width - 1, -1, -1, dtype=np.int64)
    return bits.reshape(count, width).astype(np.int64) @ weights


def pack_scales(scales: list[float]) -> bytes:
    return np.asarray(scales, dtype=">f2").tobytes()


def unpack_scales(data: bytes, count: int) -> list[float]:
    if len(data) < 2 * count:
        raise NacStreamError("the NAC stream ends inside its scales (truncated)")
    return [float(v) for v in np.frombuffer(data, dtype=">f2", count=count)]
