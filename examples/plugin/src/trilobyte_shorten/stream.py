"""The ``.tshn`` bitstream: a fixed polynomial predictor per block and channel, residuals in FLAC's Rice sections.

Layout, most significant bit first:

- header (23 bytes, big-endian): magic ``TSHN``, version (1), channels, bit depth, block size (u32),
  sample rate (u32), samples per channel (u64);
- then, block by block and within a block channel by channel: the predictor order (2 bits, 0-3) and
  the block's residuals as one FLAC residual section (``baselines.rice``: partitioned Rice with escape
  codes, predictor order 0, so every sample of the block is a residual), packed back to back;
- zero bits up to a whole byte.

Predictors are Shorten's fixed polynomials over the channel's previous samples (zeros before the
first): order 0 predicts 0, 1 ``x[n-1]``, 2 ``2x[n-1] - x[n-2]``, 3 ``3x[n-1] - 3x[n-2] + x[n-3]``; the
residual of order k is the k-th difference. Each block takes the order whose residuals have the
smallest sum of absolute values (among those that fit FLAC's 32-bit residuals).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from baselines import rice

MAGIC = b"TSHN"
VERSION = 1
HEADER = struct.Struct(">4sBBBIIQ")
MAX_ORDER = 3
_INT32 = 2**31


class StreamError(ValueError):
    """A byte string that is not a valid ``.tshn`` stream."""


@dataclass(frozen=True)
class Encoded:
    """A coded file and what the encoder chose (orders used, per order)."""

    data: bytes
    order_counts: tuple[int, ...]


def residuals(channel: np.ndarray, order: int) -> np.ndarray:
    """The order-``order`` fixed-predictor residuals of one channel (its k-th difference, zeros before it)."""
    padded = np.concatenate([np.zeros(MAX_ORDER, dtype=np.int64), np.asarray(channel, dtype=np.int64)])
    return np.diff(padded, n=order)[MAX_ORDER - order:] if order else padded[MAX_ORDER:]


def choose_orders(channel: np.ndarray, block_size: int, max_order: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each block's order (smallest sum of |residual|, fitting 32 bits) and the residuals of every order."""
    starts = np.arange(0, channel.size, block_size)
    every = [residuals(channel, k) for k in range(max_order + 1)]
    sums = np.empty((max_order + 1, starts.size), dtype=np.float64)
    for k, e in enumerate(every):
        a = np.abs(e)
        sums[k] = np.add.reduceat(a, starts).astype(np.float64)
        too_wide = np.maximum.reduceat(a, starts) >= _INT32  # beyond FLAC's 32-bit residuals
        sums[k][too_wide] = np.inf
    return np.argmin(sums, axis=0), every


def _bits(data: bytes, count: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:count]


def encode(samples: np.ndarray, sample_rate: int, bit_depth: int, block_size: int = 4096,
           max_order: int = MAX_ORDER, max_partition_order: int = 8) -> Encoded:
    """Code integer PCM ``samples`` (shape ``(num_samples, channels)``) as a ``.tshn`` stream."""
    x = np.asarray(samples)
    if x.ndim != 2 or x.dtype.kind != "i":
        raise ValueError(f"samples must be a 2-D signed integer array, not {x.dtype} of shape {x.shape}")
    if not 1 <= bit_depth <= 32 or not 1 <= x.shape[1] <= 255:
        raise ValueError(f"bit depth 1-32 and 1-255 channels only, not {bit_depth} bits, {x.shape[1]} channels")
    if not 0 <= max_order <= MAX_ORDER or not 16 <= block_size < 2**32:
        raise ValueError(f"max order must be 0-{MAX_ORDER} and block size >= 16")
    header = HEADER.pack(MAGIC, VERSION, x.shape[1], bit_depth, block_size, sample_rate, x.shape[0])
    plans = [choose_orders(x[:, c], block_size, max_order) for c in range(x.shape[1])]
    pieces: list[np.ndarray] = []
    counts = [0] * (MAX_ORDER + 1)
    for b, start in enumerate(range(0, x.shape[0], block_size)):
        for orders, every in plans:
            order = int(orders[b])
            counts[order] += 1
            block = every[order][start:start + block_size]
            plan = rice.plan(block, 0, max_partition_order)
            pieces.append(np.array([order >> 1, order & 1], dtype=np.uint8))
            pieces.append(_bits(rice.encode(block, rice_plan=plan), plan.bits))
    payload = np.packbits(np.concatenate(pieces)).tobytes() if pieces else b""
    return Encoded(header + payload, tuple(counts))


def decode(data: bytes) -> tuple[np.ndarray, int, int]:
    """The samples (int32, ``(num_samples, channels)``), sample rate and bit depth of a ``.tshn`` stream."""
    if len(data) < HEADER.size:
        raise StreamError(f"{len(data)} bytes is shorter than the {HEADER.size}-byte header")
    magic, version, channels, depth, block_size, sample_rate, n = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise StreamError(f"not a version-{VERSION} .tshn stream (magic {magic!r}, version {version})")
    payload = data[HEADER.size:]
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    # history of MAX_ORDER zeros before each channel, as the encoder assumed
    out = np.zeros((channels, n + MAX_ORDER), dtype=np.int64)
    pos = 0
    for start in range(0, n, block_size):
        count = min(block_size, n - start)
        # a section is at most ~36 bits per residual plus its partition headers: read only that far
        window = (count * 36 + 6 + (1 << rice.MAX_PARTITION_ORDER) * 10) // 8 + 16
        for c in range(channels):
            if pos + 2 > bits.size:
                raise StreamError("the stream ends before its last block")
            order = 2 * int(bits[pos]) + int(bits[pos + 1])
            pos += 2
            byte = pos >> 3
            e, end = rice.read_section(payload[byte:byte + window], count, 0, pos & 7)
            pos = 8 * byte + end
            y = out[c]
            h = y[start:start + MAX_ORDER]  # the three samples before the block
            last = (h[2], h[2] - h[1], h[2] - 2 * h[1] + h[0])  # their value and first two differences
            cur = e
            for j in reversed(range(order)):
                cur = last[j] + np.cumsum(cur)
            y[start + MAX_ORDER:start + MAX_ORDER + count] = cur
    if bits.size - pos >= 8 or bits[pos:].any():
        raise StreamError("the stream goes on after its last block")
    return out[:, MAX_ORDER:].T.astype(np.int32), sample_rate, depth
