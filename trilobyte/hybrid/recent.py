"""Recent values: the coded distribution mixed with the histogram of the channel's last samples (layouts 5, 6).

Some audio takes few values over a stretch and many over the whole frame: a quiet passage of a rescaled
8-bit source takes multiples of 375 give or take two while its loud passages take thousands of values, so
a value table (:mod:`trilobyte.hybrid.valueset`) is dense and pays nothing. Each coded channel keeps the
counts of the values among its last :data:`WINDOW` samples (a Fenwick tree over the channel's range, so
the count below any value costs ``log2`` of the range) and the coder's CDF becomes
``(1 - w) H(G) + w K / n``: ``K`` the count of recent values below the bin's lower edge, ``n`` how many
samples the window holds, ``w`` a weight in 1/4096 that moves :data:`STEP` up after a sample the
histogram gave more probability than the mixture, down otherwise, within ``[0, MAX_WEIGHT]``. At weight 0
the coder is layout 4's. Every sample enters the window, coded or taken from a FLAC block. Only audio
of 16 bits or fewer keeps one (a side channel's range of 2**17 values at most:
:data:`~trilobyte.hybrid.settings.RECENT_MAX_DEPTH`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

WINDOW = 1 << 10
WEIGHT_BITS = 12
MAX_WEIGHT = 15 << 8  # fifteen sixteenths
STEP = 64
COUNT, WEIGHT, NEXT = 0, 1, 2  # columns of the state's head (the ring and the tree follow)
HEAD = 3
G_TOP = 1 << 34


@njit(cache=True)
def new_state(channels: int, bit_depth: int, on: bool) -> np.ndarray:
    """Per coded channel (rows): the head (count, weight, next ring slot), the ring of the last
    :data:`WINDOW` values, then the Fenwick tree over a side channel's range (no columns when off)."""
    if not on:
        return np.zeros((channels, 0), dtype=np.int64)
    return np.zeros((channels, HEAD + WINDOW + (2 << bit_depth) + 1), dtype=np.int64)


@njit(cache=True, inline="always")
def below(row: np.ndarray, bit_depth: int, value: int) -> int:
    """How many of the window's values are below ``value``."""
    i = value + (1 << bit_depth)  # tree positions 1 .. 2**(depth + 1): values -2**depth .. 2**depth - 1
    top = 2 << bit_depth
    if i <= 0:
        return 0
    if i > top:
        i = top
    total = 0
    while i > 0:
        total += row[HEAD + WINDOW + i]
        i -= i & -i
    return total


@njit(cache=True, inline="always")
def _add(row: np.ndarray, bit_depth: int, value: int, delta: int) -> None:
    i = value + (1 << bit_depth) + 1
    top = 2 << bit_depth
    while i <= top:
        row[HEAD + WINDOW + i] += delta
        i += i & -i


@njit(cache=True)
def observe(row: np.ndarray, bit_depth: int, value: int) -> None:
    """Take the channel's sample ``value`` into the window (the oldest leaves a full one)."""
    slot = row[NEXT]
    if row[COUNT] == WINDOW:
        _add(row, bit_depth, row[HEAD + slot], -1)
    else:
        row[COUNT] += 1
    row[HEAD + slot] = value
    _add(row, bit_depth, value, 1)
    row[NEXT] = (slot + 1) & (WINDOW - 1)


@njit(cache=True, inline="always")
def mix(g: int, count_below: int, row: np.ndarray) -> int:
    """The CDF ``g`` (2**-34) mixed with the window's share below the same edge, by the weight."""
    w = row[WEIGHT]
    if w == 0:
        return g
    # (count_below << 34) < 2**45; each product below 2**47
    share = (count_below << 34) // row[COUNT]
    return ((((1 << WEIGHT_BITS) - w) * g) + w * share) >> WEIGHT_BITS


@njit(cache=True)
def adapt(row: np.ndarray, model_mass: int, count_in: int) -> None:
    """Move the weight after a sample whose bin had ``model_mass`` (2**-34) under the calibrated mixture
    and ``count_in`` of the window's values: up when the window gave it more, else down."""
    n = row[COUNT]
    if n == 0:
        return
    w = row[WEIGHT] + (STEP if (count_in << 34) > model_mass * n else -STEP)
    row[WEIGHT] = min(max(w, 0), MAX_WEIGHT)
