"""Value sets: a channel coded among the sample values its frame uses (sparse PCM).

Much real audio uses few of the values its range allows: an 8-bit or 12-bit source rescaled by a gain
that is not a power of two (so no low bits are always zero), a companded source stored linearly, a
quiet mix. The prediction stays in the sample domain; the coder then gives the frame's unused values no
probability. The sorted values ``v[0] < ... < v[K-1]`` cut the line into cells (:func:`cell_edges`);
the residual coded is the rank offset ``k - j`` of the sample's rank ``k`` from the rank ``j`` of the
value nearest the prediction, and each bin of ranks gets the mixture's mass over its cells
(:func:`trilobyte.hybrid.residual.cumulative`). The table of values travels with the frame, LZMA2-packed.

A cell's edges were the midpoints of neighbouring values (frame layout 3). Values often come in clusters
(an 8-bit source rescaled by 100.7 with a little noise: two to four adjacent values every hundred), where
the middle of a cluster got a cell one sample wide and the outer two fifty each, although the signal
takes any of them about as often; layout 4 places each edge at the mean of the ``CELL_MEANS`` values on
each side of it, which is the midpoint on an even grid and shares a cluster's width among its members.
"""

from __future__ import annotations

import lzma

import numpy as np
from numba import njit

from trilobyte.hybrid.intmath import bit_length

NEIGHBOURS = 8  # ranks each side over which the local spacing of the values is measured
CELL_MEANS = 8  # frame layouts 4 and 5: values each side of a cell's edge whose mean places it
_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9}]


class ValueTableError(ValueError):
    """A packed value table that does not unpack to a valid table."""


@njit(cache=True)
def lower_bound(vals: np.ndarray, k: int, value: int) -> int:
    """The first rank among ``vals[:k]`` (sorted) whose value is at least ``value``; ``k`` if none is."""
    lo, hi = 0, k
    while lo < hi:
        mid = (lo + hi) >> 1
        if vals[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def nearest(vals: np.ndarray, k: int, pred: int) -> int:
    """The rank of the value nearest ``pred`` among ``vals[:k]`` (sorted, ``k >= 1``); the lower of two as near."""
    lo = lower_bound(vals, k, pred)
    if lo == k or (lo > 0 and pred - vals[lo - 1] <= vals[lo] - pred):
        return lo - 1
    return lo


@njit(cache=True)
def rank_of(vals: np.ndarray, k: int, value: int) -> int:
    """The rank of ``value`` among ``vals[:k]``; -1 when it is not one of them."""
    lo = lower_bound(vals, k, value)
    return lo if lo < k and vals[lo] == value else -1


@njit(cache=True)
def rank_shift(vals: np.ndarray, k: int, j: int, a: int, bin_bits: int) -> int:
    """Bins of ranks about 1/2**bin_bits of the running scale ``a`` (1/16 sample) wide, in the values'
    spacing around rank ``j``."""
    lo = j - NEIGHBOURS if j > NEIGHBOURS else 0
    hi = j + NEIGHBOURS if j + NEIGHBOURS < k else k - 1
    if hi <= lo:
        return 0
    s = bit_length(((a >> 4) * (hi - lo)) // (vals[hi] - vals[lo])) - bin_bits
    return s if s > 0 else 0


def value_table(channel: np.ndarray) -> np.ndarray:
    """The sorted distinct values of one coded channel."""
    return np.unique(np.asarray(channel, dtype=np.int64))


def cell_edges(table: np.ndarray, means: int) -> np.ndarray:
    """Twice the lower edge of each rank's cell (entry 0 unused): the mean of the ``means`` values each
    side of the edge (fewer near the table's ends, as many on both sides), doubled and floored; ``means``
    1 gives the midpoints of neighbours. Edges never decrease (a window of sorted values that moves up
    has a larger mean)."""
    table = np.asarray(table, dtype=np.int64)
    k = len(table)
    edges = np.zeros(max(k, 1), dtype=np.int64)
    if k < 2:
        return edges
    sums = np.concatenate(([0], np.cumsum(table)))
    u = np.arange(1, k)
    w = np.minimum(np.minimum(u, k - u), means)
    edges[1:] = (sums[u + w] - sums[u - w]) // w
    return edges


def spacing_bits(channel: np.ndarray, table: np.ndarray) -> float:
    """What coding among ``table`` could save at most, in bits: log2 of each sample's local spacing."""
    if len(table) < 2:
        return 0.0
    rank = np.searchsorted(table, channel)
    lo = np.maximum(rank - 1, 0)
    hi = np.minimum(rank + 1, len(table) - 1)
    spacing = (table[hi] - table[lo]) / (hi - lo)
    return float(np.log2(spacing).sum())


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def pack_table(table: np.ndarray) -> bytes:
    """The table as LZMA2 (raw) of LEB128 varints: the first value zigzagged, then each gap."""
    out = bytearray()
    for g in [_zigzag(int(table[0])), *np.diff(table).tolist()]:
        while g >= 0x80:
            out.append(0x80 | (g & 0x7F))
            g >>= 7
        out.append(g)
    return lzma.compress(bytes(out), format=lzma.FORMAT_RAW, filters=_FILTERS)


def unpack_table(data: bytes, low: int, high: int, limit: int) -> np.ndarray:
    """Exact inverse of :func:`pack_table` for a table of at most ``limit`` values within ``[low, high]``."""
    unpacker = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=_FILTERS)
    try:
        raw = unpacker.decompress(data, max_length=5 * limit + 5)
    except lzma.LZMAError as err:
        raise ValueTableError(f"a value table does not unpack: {err}") from err
    if not unpacker.eof or unpacker.unused_data:
        raise ValueTableError("a value table is cut short, too long, or followed by other bytes")
    values: list[int] = []
    v = shift = 0
    for byte in raw:
        v |= (byte & 0x7F) << shift
        shift += 7
        if byte & 0x80:
            if shift > 35:
                raise ValueTableError("a value table holds a varint longer than 5 bytes")
            continue
        values.append(v)
        v = shift = 0
    if shift or not values or len(values) > limit:
        raise ValueTableError(f"a value table holds {len(values)} values, or ends inside one (at most {limit})")
    first = values[0] // 2 if values[0] % 2 == 0 else -(values[0] + 1) // 2
    table = np.cumsum(np.array([first, *values[1:]], dtype=np.int64))
    if (len(table) > 1 and min(values[1:]) < 1) or table[0] < low or table[-1] > high:
        raise ValueTableError(f"a value table is not increasing within [{low}, {high}]")
    return table
