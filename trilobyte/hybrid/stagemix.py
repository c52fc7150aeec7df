"""The stage mix: the adaptive stages' parts of a prediction weighted by adaptive weights (``stage_mix``).

The cascade's prediction is the LPC stage's part plus the three adaptive stages' parts. Over noise a
long stage's part is mostly its own misadjustment, and a later stage's more so; sac weights its stages'
outputs by a second adaptive level for that reason. Here each channel keeps three weights in 1/2**14,
starting at one: the prediction is ``LPC + sum w_k f_k`` (``f_k`` each stage's part in 1/4096 of a sample,
the sum rounded once, as with ``fine_sum``), and after the sample each weight takes a step of
``2**-RATE g_k / G_k``, ``g_k = e f_k`` the squared error's gradient (``e`` the error of the mixed
prediction, both in 1/16 of a sample) and ``G_k`` its running mean magnitude (a step of ``2**-BETA``):
normalized per weight, so a stage's scale does not set its step. The stages themselves adapt as before
(each on its predecessors' rounded parts); only the prediction is mixed. Only with ``fine_sum``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from trilobyte.hybrid.intmath import clamp

W_BITS = 14  # fractional bits of a weight
ONE = 1 << W_BITS  # a weight of one
RATE = 9  # each weight's step, 2**-RATE of its normalized gradient (chosen on the valid splits)
BETA = 5  # the gradients' running mean magnitude, a step of 2**-BETA
W_MAX = 1 << 18  # weights stay within +-16
F_MAX = 1 << 40  # a part in 1/4096, clamped: |w f| stays below 2**58
G_MAX = 1 << 30  # the error and the parts in 1/16, clamped: |g| stays below 2**60
W, G, F, EXACT = 0, 3, 6, 9  # columns: the weights, the gradients' mean magnitudes, the parts, the prediction
COLUMNS = 10


@njit(cache=True)
def new_state(channels: int) -> np.ndarray:
    """Per channel (rows): weights of one, no gradient yet."""
    state = np.zeros((channels, COLUMNS), dtype=np.int64)
    state[:, W:W + 3] = ONE
    return state


@njit(cache=True, inline="always")
def mixed(row: np.ndarray, lpc: int, f0: int, f1: int, f2: int) -> int:
    """The prediction in 1/4096 of a sample: ``lpc`` (the LPC part, 1/4096) plus the weighted parts
    ``f_k`` (1/4096); the parts and the sum are kept for :func:`adapt`."""
    row[F] = clamp(f0, F_MAX)
    row[F + 1] = clamp(f1, F_MAX)
    row[F + 2] = clamp(f2, F_MAX)
    total = lpc + ((row[W] * row[F] + row[W + 1] * row[F + 1] + row[W + 2] * row[F + 2]) >> W_BITS)
    row[EXACT] = total
    return total


@njit(cache=True, inline="always")
def adapt(row: np.ndarray, target: int) -> None:
    """Each weight's step once the sample is known: ``target`` is the sample :func:`mixed` predicted (less
    the previous sample's part where the cascade is off), in whole samples."""
    err = clamp(((target << 12) - row[EXACT]) >> 8, G_MAX)
    for k in range(3):
        g = err * clamp(row[F + k] >> 8, G_MAX)
        scale = row[G + k] + (((g if g >= 0 else -g) - row[G + k]) >> BETA)
        row[G + k] = scale
        d = scale + 1
        while d > 1 << 40:  # keeps g << (W_BITS - RATE) below 2**63
            d >>= 8
            g >>= 8
        g = clamp(g, d << 4)  # a step of at most 16 * 2**-RATE
        row[W + k] = clamp(row[W + k] + (g << (W_BITS - RATE)) // d, W_MAX)
