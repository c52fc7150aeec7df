"""The coder step: a residual under the mixture, range coded (:mod:`trilobyte.hybrid.rangecoder`).

The residual ``r = x - P`` falls in a bin ``q = r >> s`` of width ``2**s`` (``s`` from the running scale
``A``, :func:`bin_shift`); the bins ``-L..L-1`` and two escapes form one alphabet whose cumulative
frequencies ``C(i) = i + G(edge_i) * (2**24 - M) >> 34`` come from the mixture's CDF ``G`` (a table of
the logistic, linear interpolation): every symbol has frequency >= 1, the total is exactly 2**24. An
escape is followed by an Elias-gamma code of the overshoot; the ``s`` low bits are uniform.

A channel coded among a value table (:mod:`trilobyte.hybrid.valueset`, ``k > 0`` values) codes the rank
offset from the value nearest the prediction (rank ``base``) in the same alphabet: the edge below rank
``u`` is at ``edges[u] / 2`` (:func:`trilobyte.hybrid.valueset.cell_edges`), so ranks outside the table
hold the minimum frequency alone. With a calibration (:mod:`trilobyte.hybrid.calibration`, frame
layouts 3 to 6), ``H(G)`` replaces ``G`` in ``C(i)``; with recent values (:mod:`trilobyte.hybrid.recent`,
layouts 5, 6) that is mixed with the share of the channel's last samples below the bin's lower edge.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from trilobyte.hybrid import calibration, recent
from trilobyte.hybrid import rangecoder as rc
from trilobyte.hybrid.intmath import bit_length
from trilobyte.hybrid.network import BQ, INV_B, M2, PI

OK, BAD_DATA, BAD_VALUE, OVERFLOW = 0, 1, 2, 3
TOTAL = 1 << rc.PRECISION
G_BITS = 34  # mixture CDF: component weights (12 bits) times logistic values (22 bits)


@njit(cache=True)
def bin_shift(a: int, bin_bits: int) -> int:
    """``s``: bins at most 1/2**bin_bits of the running scale ``a`` (in 1/16) wide."""
    s = bit_length(a >> 4) - bin_bits
    return s if s > 0 else 0


@njit(cache=True)
def logistic(d: int, inv_b: int, sig: np.ndarray) -> int:
    """2**22 / (1 + exp(-t)) with t = 8 d / B (``inv_b = 2**40 // B``), by table and interpolation."""
    t = (d * inv_b * 8192) >> 40
    idx = (t >> 4) + 1024
    if idx < 0:
        return sig[0]
    if idx >= 2048:
        return sig[2048]
    lo = sig[idx]
    return lo + (((sig[idx + 1] - lo) * (t & 15)) >> 4)


@njit(cache=True, inline="always")
def mixture_cdf(e2: int, mix: np.ndarray, sig: np.ndarray) -> int:
    """The mixture's CDF (``mix``: :func:`trilobyte.hybrid.network.new_mixture`'s rows) at the half-integer
    edge ``e2 / 2`` (relative to the prediction), in 2**-34."""
    g = 0
    for k in range(mix.shape[1]):
        d = e2 - mix[M2, k]
        lim = 3 * mix[BQ, k]  # beyond 3 B the logistic table is saturated (|t| > 16)
        if d > lim:
            d = lim
        elif d < -lim:
            d = -lim
        g += mix[PI, k] * logistic(d, mix[INV_B, k], sig)
    return g


@njit(cache=True, inline="always")
def edge_of(i: int, m: int, half: int, s: int, k: int, base: int) -> tuple[int, int]:
    """Where the lower edge of symbol ``i`` of the alphabet [escape-, bins -L..L-1, escape+] (M symbols)
    lies: (-1, 0) below everything, (1, 0) past everything, else (0, v) with ``v`` bin ``q``'s residual
    ``q << s``, or with ``k > 0`` the rank ``base + (q << s)`` among ``k`` values whose cell starts there."""
    if i <= 0:
        return -1, 0
    if i >= m:
        return 1, 0
    v = (i - 1 - half) << s
    if k == 0:
        return 0, v
    u = base + v
    if u <= 0:
        return -1, 0
    if u >= k:
        return 1, 0
    return 0, u


@njit(cache=True, inline="always")
def edge_cdf(i: int, m: int, half: int, s: int, mix: np.ndarray, sig: np.ndarray, edges: np.ndarray, k: int,
             base: int, pred: int) -> int:
    """G at the lower edge of symbol ``i`` (:func:`edge_of`), in 2**-34: 0 below everything, 2**34 past
    everything; bins of residuals, or with ``k > 0`` of ranks offset from ``base`` (prediction ``pred``),
    rank ``u``'s cell from ``edges[u] / 2``."""
    side, v = edge_of(i, m, half, s, k, base)
    if side != 0:
        return 0 if side < 0 else 1 << G_BITS
    return mixture_cdf((v << 1) - 1 if k == 0 else edges[v] - 2 * pred, mix, sig)


@njit(cache=True, inline="always")
def edge_count(i: int, m: int, half: int, s: int, vals: np.ndarray, k: int, base: int, pred: int, rec: np.ndarray,
               bit_depth: int) -> int:
    """How many of the recent values (``rec``: :mod:`trilobyte.hybrid.recent`) lie below symbol ``i``'s
    lower edge (:func:`edge_of`): the value ``pred + (q << s)`` of bin ``q``, or with ``k > 0`` the value of
    its first rank."""
    side, v = edge_of(i, m, half, s, k, base)
    if side != 0:
        return 0 if side < 0 else rec[recent.COUNT]
    return recent.below(rec, bit_depth, pred + v if k == 0 else vals[v])


@njit(cache=True, inline="always")
def calibrated(g: int, cal: np.ndarray) -> int:
    """``g`` mapped by the calibration ``cal`` (the identity where it is empty)."""
    return calibration.transform(g, cal) if cal.shape[0] > 0 else g


@njit(cache=True, inline="always")
def cumulative(i: int, m: int, g: int, h: int, rec: np.ndarray) -> int:
    """C(i) of the alphabet (every frequency >= 1) from ``g``, the calibrated G at symbol ``i``'s lower edge
    (:func:`calibrated` of :func:`edge_cdf`), mixed with the recent values' share ``h`` (:func:`edge_count`)
    unless ``rec`` is empty."""
    if i <= 0:
        return 0
    if i >= m:
        return TOTAL
    if rec.shape[0] > 0:
        g = recent.mix(g, h, rec)
    return i + ((g * (TOTAL - m)) >> G_BITS)


@njit(cache=True, inline="always")
def symbol_range(sym: int, m: int, half: int, s: int, mix: np.ndarray, sig: np.ndarray, vals: np.ndarray,
                 edges: np.ndarray, k: int, base: int, pred: int, cal: np.ndarray, rec: np.ndarray,
                 bit_depth: int) -> tuple[int, int, int, int, int, int]:
    """Symbol ``sym``'s (C(sym), C(sym + 1)), the mixture's CDF at its edges, the calibrated mixture's mass
    in it and the recent values in it."""
    g_lo = edge_cdf(sym, m, half, s, mix, sig, edges, k, base, pred)
    g_hi = edge_cdf(sym + 1, m, half, s, mix, sig, edges, k, base, pred)
    cal_lo, cal_hi = calibrated(g_lo, cal), calibrated(g_hi, cal)
    h_lo = h_hi = 0
    if rec.shape[0] > 0:
        h_lo = edge_count(sym, m, half, s, vals, k, base, pred, rec, bit_depth)
        h_hi = edge_count(sym + 1, m, half, s, vals, k, base, pred, rec, bit_depth)
    c_lo = cumulative(sym, m, cal_lo, h_lo, rec)
    return c_lo, cumulative(sym + 1, m, cal_hi, h_hi, rec), g_lo, g_hi, cal_hi - cal_lo, h_hi - h_lo


@njit(cache=True)
def encode_uniform(st: np.ndarray, io: np.ndarray, words: np.ndarray, value: int, bits: int) -> None:
    """``bits`` low bits of ``value``, high chunk first, 8 bits at a time, each chunk uniform."""
    while bits > 0:
        k = 8 if bits > 8 else bits
        bits -= k
        chunk = (value >> bits) & ((1 << k) - 1)
        rc.encode(st, io, words, chunk << (24 - k), 1 << (24 - k))


@njit(cache=True)
def decode_uniform(st: np.ndarray, io: np.ndarray, words: np.ndarray, bits: int) -> int:
    """What :func:`encode_uniform` wrote; -1 for invalid data."""
    value = 0
    while bits > 0:
        k = 8 if bits > 8 else bits
        bits -= k
        q = rc.quantile(st)
        if q < 0:
            return -1
        chunk = q >> (24 - k)
        rc.consume(st, io, words, chunk << (24 - k), 1 << (24 - k))
        value = (value << k) | chunk
    return value


@njit(cache=True, inline="always")
def encode_residual(st: np.ndarray, io: np.ndarray, words: np.ndarray, r: int, s: int, half: int, mix: np.ndarray,
                    sig: np.ndarray, vals: np.ndarray, edges: np.ndarray, k: int, base: int, pred: int,
                    cal: np.ndarray, rec: np.ndarray, bit_depth: int) -> tuple[int, int, int, int]:
    """Code residual ``r`` (a rank offset with ``k > 0``: :func:`edge_cdf`) with bin shift ``s``, ``half``
    central bins a side, calibration ``cal`` and recent values ``rec``; the mixture's CDF at the coded bin's
    edges, the calibrated mixture's mass in the bin and the recent values in it."""
    m = 2 * half + 2
    q = r >> s
    if q < -half:
        sym = 0
        over = -half - 1 - q
    elif q >= half:
        sym = m - 1
        over = q - half
    else:
        sym = q + half + 1
        over = -1
    c_lo, c_hi, g_lo, g_hi, mass, inside = symbol_range(sym, m, half, s, mix, sig, vals, edges, k, base, pred,
                                                        cal, rec, bit_depth)
    rc.encode(st, io, words, c_lo, c_hi - c_lo)
    if over >= 0:
        nb = bit_length(over + 1)
        encode_uniform(st, io, words, nb, 5)
        encode_uniform(st, io, words, over + 1, nb - 1)
    encode_uniform(st, io, words, r - (q << s), s)
    return g_lo, g_hi, mass, inside


@njit(cache=True, inline="always")
def decode_residual(st: np.ndarray, io: np.ndarray, words: np.ndarray, s: int, half: int, mix: np.ndarray,
                    sig: np.ndarray, vals: np.ndarray, edges: np.ndarray, k: int, base: int, pred: int,
                    cal: np.ndarray, rec: np.ndarray, bit_depth: int) -> tuple[int, int, int, int, int, int]:
    """(status, residual, then as :func:`encode_residual` returns): the inverse of :func:`encode_residual`."""
    m = 2 * half + 2
    target = rc.quantile(st)
    if target < 0:
        return BAD_DATA, 0, 0, 0, 0, 0
    mixing = rec.shape[0] > 0 and rec[recent.WEIGHT] > 0  # else the counts change nothing in C
    low, high = 0, m
    while high - low > 1:
        mid = (low + high) >> 1
        h = edge_count(mid, m, half, s, vals, k, base, pred, rec, bit_depth) if mixing else 0
        g = calibrated(edge_cdf(mid, m, half, s, mix, sig, edges, k, base, pred), cal)
        if cumulative(mid, m, g, h, rec) <= target:
            low = mid
        else:
            high = mid
    c_lo, c_hi, g_lo, g_hi, mass, inside = symbol_range(low, m, half, s, mix, sig, vals, edges, k, base, pred,
                                                        cal, rec, bit_depth)
    rc.consume(st, io, words, c_lo, c_hi - c_lo)
    if low == 0 or low == m - 1:
        nb = decode_uniform(st, io, words, 5)
        if nb < 1 or nb > 30:
            return BAD_DATA, 0, 0, 0, 0, 0
        rest = decode_uniform(st, io, words, nb - 1)
        if rest < 0:
            return BAD_DATA, 0, 0, 0, 0, 0
        over = ((1 << (nb - 1)) | rest) - 1
        q = -half - 1 - over if low == 0 else half + over
    else:
        q = low - 1 - half
    low_bits = decode_uniform(st, io, words, s)
    if low_bits < 0:
        return BAD_DATA, 0, 0, 0, 0, 0
    return OK, (q << s) + low_bits, g_lo, g_hi, mass, inside
