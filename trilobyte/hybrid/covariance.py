"""The covariance-method LPC stage: an exponentially weighted least-squares predictor solved in integers.

The predictor of ``x[t]`` from ``x[t-1] .. x[t-p]`` minimises ``sum_s lambda**(t-1-s) (x[s] - sum_i
w_i x[s-1-i])**2`` over the past, ``lambda = 1 - 2**-decay``. Unlike the autocorrelation method nothing
is windowed away at the edges, which is what lets a short window (``decay`` 12: about 4,000 samples)
follow the signal. Its normal equations need only lagged product sums

    g_m[k] = sum_{s <= m} lambda**(m-s) x[s] x[s-k],   k = 0..p,

kept by the recursion ``g_m[k] = g_{m-1}[k] - g_{m-1}[k] / 2**decay + x[m] x[m-k] 2**f`` (the division
rounded away from zero; O(p) a sample; ``f`` fractional bits, :func:`fraction_bits`):
``R[i, j] = g_{t-2-i}[j-i]`` and ``b[i] = g_{t-1}[i+1]``, so the last ``p + 1`` rows of ``g`` are kept in a
ring. Every so often ``(R + ridge) w = b`` is solved by an integer Cholesky factorization with the
rounding defined below (floor divisions, floor square roots), so every machine gets the same coefficients.

Scales (raw integers): ``|x| < 2**20`` and ``decay <= 16`` keep ``g`` below 2**57 (``f`` is chosen to keep
the sums within the bound those give without it); the system is shifted
so its largest diagonal entry lies in [2**52, 2**53), so the factor's entries stay below 2**26.5 (a
Cholesky factor's row norms are the square roots of the diagonal; clamped to +-2**27 whatever the
rounding) and its diagonal above 2**16; the
forward solution is clamped to +-2**29 and the coefficients (20 fractional bits, as the autocorrelation
stage's) to +-2**27. Every product is then below 2**57 and every sum of them (at most 64, in index
order) below 2**63.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from trilobyte.hybrid.intmath import bit_length, clamp

SCALE_BITS = 53
COEF_BITS = 20
COEF_CLIP = 1 << 27
Y_CLIP = 1 << 29
C_CLIP = 1 << 27  # never reached by a positive definite system: a safeguard against overflow


@njit(cache=True)
def scaled(v: int, up: int, sh: int) -> int:
    """``v * 2**up`` (saturating near 2**61) or ``v >> sh``."""
    if up > 0:
        return clamp(v, 1 << (61 - up)) << up
    return v >> sh


@njit(cache=True)
def fraction_bits(wanted: int, width: int, decay: int) -> int:
    """The lag sums' fractional bits for an input of ``width`` bits (``|x| <= 2**(width - 1)``): ``wanted``,
    or fewer where that would take a sum past ``2**(38 + 16)``, the bound of a 20-bit input's whole-unit
    sums at the longest window (a sum is at most ``x**2 2**decay``)."""
    room = 38 + 16 - 2 * (width - 1) - decay
    return max(0, min(wanted, room))


@njit(cache=True)
def update(ring: np.ndarray, xs: np.ndarray, t: int, p: int, decay: int, frac: int) -> None:
    """``g_t`` from ``g_{t-1}`` once ``xs[t]`` is known (``ring`` has ``p + 1`` rows of ``p + 1`` lags, with
    ``frac`` fractional bits)."""
    rows = p + 1
    old = ring[(t - 1) % rows]
    new = ring[t % rows]
    v = xs[t]
    mask = (1 << decay) - 1
    for k in range(p + 1):
        g = old[k]
        # the decay rounds away from zero, so a silent stretch empties the sums instead of leaving residue
        new[k] = g - ((g + mask) >> decay if g > 0 else g >> decay) + ((v * xs[t - k]) << frac)


@njit(cache=True)
def isqrt(n: int) -> int:
    """floor(sqrt(n)) for n >= 0, by Newton's method in integers."""
    if n < 2:
        return n if n > 0 else 0
    x = 1 << ((bit_length(n) + 1) >> 1)  # at least sqrt(n)
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y


@njit(cache=True)
def solve(ring: np.ndarray, t: int, p: int, ridge: int, decay: int, coef: np.ndarray, a: np.ndarray,
          y: np.ndarray, cover_rhs: bool = False, order: int = -1) -> None:
    """``coef`` (20 fractional bits) predicting ``x[t]``: ``(R + ridge) coef = b`` from the sums up to
    ``x[t-1]``, by an integer Cholesky factorization ``C C^T``; ``a`` and ``y`` are scratch.

    ``ridge`` is a shift: every diagonal entry is raised by the largest one over ``2**ridge`` plus
    ``2**decay`` units of the sums (one unit a sample over the window: a squared step, or ``2**-f`` of one
    with ``f`` fractional bits), so a silent or nearly silent window, whose sums are mostly what the
    decay's rounding left behind, gives coefficients near zero.

    ``order``: solve for the first ``order`` coefficients only (the rest are zero; -1: all ``p``).
    ``cover_rhs``: the scale is set by the newest energy ``g_{t-1}[0]`` too, which bounds every ``|b[i]|``
    (Cauchy-Schwarz); without it (models from before) a signal growing louder could push ``b`` past
    2**53, where it is clamped and the coefficients come out wrong.
    """
    rows = p + 1
    use = p if order < 0 else min(order, p)
    big = 0
    for i in range(-1 if cover_rhs else 0, p):
        if ring[(t - 2 - i) % rows, 0] > big:
            big = ring[(t - 2 - i) % rows, 0]
    lift = (big >> ridge) + (1 << decay)
    top = big + lift
    # one shift brings the largest diagonal entry to [2**52, 2**53): small windows keep their precision
    sh = 0
    while (top >> sh) >= 1 << SCALE_BITS:
        sh += 1
    up = 0
    while (top << up) < 1 << (SCALE_BITS - 1):
        up += 1
    lift = scaled(lift, up, sh)
    # the lower triangle of ``a`` holds the system, then C
    for i in range(use):
        g = ring[(t - 2 - i) % rows]
        a[i, i] = scaled(g[0], up, sh) + lift
        for j in range(i + 1, use):
            a[j, i] = scaled(g[j - i], up, sh)
    for j in range(use):
        acc = a[j, j]
        for k in range(j):
            acc -= a[j, k] * a[j, k]
        cjj = isqrt(acc) if acc > 1 else 1
        a[j, j] = cjj
        for i in range(j + 1, use):
            acc = a[i, j]
            for k in range(j):
                acc -= a[i, k] * a[j, k]
            a[i, j] = clamp(acc // cjj, C_CLIP)
    g = ring[(t - 1) % rows]
    for i in range(use):  # C y = b
        acc = clamp(scaled(g[i + 1], up, sh), 1 << SCALE_BITS)
        for k in range(i):
            acc -= a[i, k] * y[k]
        y[i] = clamp(acc // a[i, i], Y_CLIP)
    for i in range(use, p):
        coef[i] = 0
    for i in range(use - 1, -1, -1):  # C^T coef = y
        acc = y[i] << COEF_BITS
        for k in range(i + 1, use):
            acc -= a[k, i] * coef[k]
        coef[i] = clamp(acc // a[i, i], COEF_CLIP)
