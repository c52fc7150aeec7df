"""Calibration: an adaptive map of the mixture's CDF, learned from the frame's own samples (layouts 3-5).

The network was trained on other audio; on a given file its mixture may be too wide, too narrow or
lopsided in a way no feature tells it. Each coded channel keeps a histogram of where its samples fell
under the mixture (the probability integral transform): :data:`BINS` equal bins of the mixture's CDF,
each coded sample adding :data:`STEP` spread over the bins that its coded bin's CDF interval
``[G(lo), G(hi)]`` covers, in proportion to the overlap (so a sample in a wide bin, an exact zero in
near-silence say, does not pile up in one). The coder then uses ``H(G)`` instead of the mixture's CDF
``G``, with ``H`` the histogram's own CDF (linear within each bin): a calibrated mixture leaves the
counts flat and ``H`` the identity. Every count starts at :data:`START`, and all are halved (rounding
up: no count reaches 0) when their total passes :data:`LIMIT`, so the map follows the last few thousand
samples. Integers throughout, as the rest of the kernel (bounds in the comments).
"""

from __future__ import annotations

import numpy as np
from numba import njit

BINS = 32
BIN_BITS = 29  # 34 - log2(BINS): G's bits below a bin
START = 1 << 10
STEP = 1 << 10
LIMIT = 8192 * STEP
TOP = 1 << 34  # G and H are in 2**-34


@njit(cache=True)
def new_maps(channels: int) -> np.ndarray:
    """Per coded channel (rows): the bins' counts (columns 0 .. BINS - 1), then their prefix sums
    (column BINS + j: the counts below bin j; column 2 BINS: the total)."""
    maps = np.zeros((channels, 2 * BINS + 1), dtype=np.int64)
    for c in range(channels):
        for j in range(BINS):
            maps[c, j] = START
            maps[c, BINS + j] = START * j
        maps[c, 2 * BINS] = START * BINS
    return maps


@njit(cache=True, inline="always")
def transform(g: int, row: np.ndarray) -> int:
    """H(g) for ``g`` in [0, 2**34]: monotone, H(0) = 0, H(2**34) = 2**34."""
    if g >= TOP:
        return TOP
    j = g >> BIN_BITS
    # the total stays below LIMIT + BINS * STEP < 2**24, so low < 2**54 and low << 5 < 2**59
    low = (row[BINS + j] << BIN_BITS) + (g & ((1 << BIN_BITS) - 1)) * row[j]
    return (low << (34 - BIN_BITS)) // row[2 * BINS]


@njit(cache=True)
def observe(row: np.ndarray, g_lo: int, g_hi: int) -> None:
    """Count a sample whose bin spans [g_lo, g_hi] of the mixture's CDF (in 2**-34): :data:`STEP` spread
    over the calibration's bins in proportion to their overlap with it (a bin takes at least 1)."""
    if g_hi > TOP - 1:
        g_hi = TOP - 1
    if g_lo > g_hi:
        g_lo = g_hi
    first, last = g_lo >> BIN_BITS, g_hi >> BIN_BITS
    span = g_hi - g_lo + 1
    added = 0
    for j in range(first, last + 1):
        lo = g_lo if j == first else j << BIN_BITS
        hi = g_hi if j == last else ((j + 1) << BIN_BITS) - 1
        share = (STEP * (hi - lo + 1)) // span  # STEP * 2**29 at most
        if share < 1:
            share = 1
        row[j] += share
        added += share
        for i in range(j + 1, BINS):
            row[BINS + i] += share
    row[2 * BINS] += added
    if row[2 * BINS] > LIMIT:
        total = 0
        for i in range(BINS):
            row[i] = (row[i] + 1) >> 1
            row[BINS + i] = total
            total += row[i]
        row[2 * BINS] = total
