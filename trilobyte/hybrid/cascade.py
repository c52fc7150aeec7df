"""The cascade: per channel, an LPC stage and three adaptive stages predict each sample from the past.

An LPC stage (coefficients with 20 fractional bits, re-solved every ``lpc_every`` samples from an
exponentially weighted window of the past by the covariance method's least squares,
:mod:`trilobyte.hybrid.covariance`; older models: :mod:`trilobyte.hybrid.legacy`) predicts ``x``;
adaptive stages predict its residual (stage 0, plus ``stereo_taps`` taps of the other channel's LPC
residual: the second channel sees the first one's current one), stage 0's residual (stage 1) and stage
1's residual (stage 2). Weights have 16 fractional bits; each adapts by normalized LMS (error times input
over the window's energy, kept as an exact running sum, plus the error's square with ``nlms_robust``; with
``nlms_recent`` the energy is blended with the input's recent power).
Stage inputs and errors are clamped to +-2**26; with ``fine_inputs`` they are kept in 1/2**FINE of a sample,
from the parts before rounding. Without the cascade the previous sample predicts.

:func:`predict` gives the parts of a sample's prediction and the prediction (their exact sum rounded once with
``fine_sum``, else the sum of the rounded parts; with ``stage_mix`` the adaptive stages' parts weighted,
:mod:`trilobyte.hybrid.stagemix`), :func:`adapt` takes the sample once it is
known; nothing else reads or writes the state (:class:`Cascade`, :class:`Solver`) in between, so a caller
may code the sample any way it likes and the cascade follows the true signal. The two alternate sample by
sample: a stage's step from one sample is taken as it predicts the next (one pass over its weights).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from trilobyte.hybrid import covariance as cov
from trilobyte.hybrid import legacy, stagemix
from trilobyte.hybrid.intmath import clamp
from trilobyte.hybrid.settings import MAX_ORDER

PAD = MAX_ORDER + 2  # zero history before a frame's first sample
W_BITS = 16
W_CLIP = 1 << 24
U_CLIP = 1 << 26  # stage inputs and errors are clamped here: window energies stay below 1.5 * 2**62
STEREO_MAX = 32
XH, XS, U = 0, 1, 2  # rows of Cascade.hist
TAPS, LPC = 3, 4  # rows of Cascade.w after the three stages'
FINE = 4  # fractional bits of the stages' inputs with ``fine_inputs``
SHIFT, ENERGY, E_CROSS, A_U, STEP, FRAC, PART, POWER = 0, 1, 4, 5, 8, 11, 12, 16  # columns of Cascade.sums
# (ENERGY + k, A_U + k, STEP + k, POWER + k: stage k's; STEP + k its pending normalized LMS step, taken when the
# stage next predicts; PART + k the parts of the prediction in 1/2**FINE of a sample with ``fine_inputs``: LPC,
# stages 0 to 2; POWER + k its input's recent power with ``nlms_recent``)


class Cascade(NamedTuple):
    """A frame's cascade state, a few arrays (small to pass around); over time, index ``t = PAD + n``."""

    hist: np.ndarray  # (5, channels, PAD + samples): the samples (XH), the LPC stage's input (XS: the
    # samples shifted below 2**20), stage k's input (U + k: the LPC residual, then stage k-1's residual)
    w: np.ndarray  # (5, channels, MAX_ORDER): stage k's weights (16 fractional bits), the stereo taps'
    # (TAPS), the LPC coefficients (LPC, 20 fractional bits)
    sums: np.ndarray  # (channels, 19): the LPC input's shift (SHIFT), stage k window's energy (ENERGY + k),
    # the stereo taps' (E_CROSS), stage k input's running magnitude in 1/16 (A_U + k: sign-error LMS), stage
    # k's pending step (STEP + k), the LPC lag sums' fractional bits (FRAC), the fine parts (PART + k), stage
    # k input's recent power (POWER + k)
    cross: np.ndarray  # (STEREO_MAX,) the stereo taps' inputs for the current sample
    mix: np.ndarray  # (channels, stagemix.COLUMNS) the stage mix's weights and sums (``stage_mix``)


class Solver(NamedTuple):
    """The LPC stage's sums and scratch."""

    lags: np.ndarray  # (channels, p + 1, p + 1) each channel's ring of lag sums (covariance method)
    a_cov: np.ndarray  # the covariance solver's scratch
    y_cov: np.ndarray
    acf: np.ndarray  # (channels, MAX_ORDER + 1) windowed autocorrelation (older models)
    tmp: np.ndarray  # scratch of their Levinson-Durbin recursion


@njit(cache=True)
def new_cascade(channels: int, samples: int) -> Cascade:
    """A silent past for ``samples`` samples of ``channels`` channels."""
    sums = np.zeros((channels, POWER + 3), dtype=np.int64)
    sums[:, A_U: A_U + 3] = 16 << 4
    return Cascade(np.zeros((5, channels, PAD + samples), dtype=np.int64),
                   np.zeros((5, channels, MAX_ORDER), dtype=np.int64), sums, np.zeros(STEREO_MAX, dtype=np.int64),
                   stagemix.new_state(channels))


@njit(cache=True)
def new_solver(cfg: Any, channels: int) -> Solver:
    size = cfg.lpc_order + 1 if cfg.lpc_covariance else 1
    return Solver(np.zeros((channels, size, size), dtype=np.int64), np.zeros((size, size), dtype=np.int64),
                  np.zeros(size, dtype=np.int64), np.zeros((channels, MAX_ORDER + 1), dtype=np.int64),
                  np.zeros(MAX_ORDER, dtype=np.int64))


@njit(cache=True)
def stage_sum(w: np.ndarray, u: np.ndarray, n: int, order: int, g: int, rate: int) -> int:
    """sum w[i] u[n-1-i], 16 fractional bits (|w| < 2**24, |u| < 2**26, order <= 1536: below 2**61), each
    weight first taking the normalized LMS step ``g`` left by the sample before (:func:`nlms_step`; 0: none):
    ``w[i] += (g u[n-2-i] + half) >> (14 + rate)``, clipped. One pass over the weights instead of two."""
    acc = 0
    if g == 0:
        for i in range(order):
            acc += w[i] * u[n - 1 - i]
        return acc
    sh = 14 + rate
    for i in range(order):
        nw = stepped(w[i], g, u[n - 2 - i], sh)
        w[i] = nw
        acc += nw * u[n - 1 - i]
    return acc


@njit(cache=True, inline="always")
def stepped(w: int, g: int, u: int, sh: int) -> int:
    """A weight after a normalized LMS step ``g`` on input ``u``: ``w + (g u + half) >> sh``, clipped."""
    return min(max(w + ((g * u + (1 << (sh - 1))) >> sh), -W_CLIP), W_CLIP)


@njit(cache=True)
def lpc_sum(coef: np.ndarray, x: np.ndarray, t: int, order: int) -> int:
    """sum coef[j] x[t-1-j], 20 fractional bits."""
    acc = 0
    for j in range(order):
        acc += coef[j] * x[t - 1 - j]
    return acc


@njit(cache=True, inline="always")
def cross_sum(cs: Cascade, c: int, t: int, taps: int) -> int:
    """The stereo taps' part of stage 0: channel 1 sees channel 0's LPC residual up to now, channel 0
    channel 1's up to the sample before; their inputs go to ``cs.cross``, their energy to ``E_CROSS``."""
    acc = 0
    cs.sums[c, E_CROSS] = 0
    for i in range(taps):
        cs.cross[i] = cs.hist[U, 0, t - i] if c == 1 else cs.hist[U, 1, t - 1 - i]
        acc += cs.w[TAPS, c, i] * cs.cross[i]
        cs.sums[c, E_CROSS] += cs.cross[i] * cs.cross[i]
    return acc


@njit(cache=True, inline="always")
def refresh_lpc(cfg: Any, cs: Cascade, sv: Solver, c: int, t: int, n: int) -> None:
    """Re-solve channel ``c``'s LPC coefficients (every ``lpc_every`` samples after the first)."""
    if cfg.lpc_order == 0 or n % cfg.lpc_every != 0 or n == 0:
        return
    if cfg.lpc_covariance:
        order = cfg.lpc_order if cfg.lpc_warmup == 0 else min(cfg.lpc_order, n >> cfg.lpc_warmup)
        cov.solve(sv.lags[c], t, cfg.lpc_order, cfg.lpc_ridge, cfg.lpc_decay, cs.w[LPC, c], sv.a_cov, sv.y_cov,
                  cfg.lpc_cover_rhs, order)
    else:
        legacy.levinson(sv.acf[c], cfg.lpc_order, cs.w[LPC, c], sv.tmp)


@njit(cache=True, inline="always")
def rounded(acc: int, bits: int) -> int:
    return (acc + (1 << (bits - 1))) >> bits


@njit(cache=True, inline="always")
def predict(cfg: Any, cs: Cascade, sv: Solver, c: int, t: int, n: int) -> tuple[int, int, int, int, int, int]:
    """The parts of sample ``n``'s prediction on channel ``c``: (previous sample's part, LPC, stage 0
    with the stereo taps, stage 1, stage 2), each rounded to a whole sample, and the prediction: with
    ``fine_sum`` the parts' exact sum (in 1/4096) rounded once (the adaptive stages' parts weighted with
    ``stage_mix``), else the sum of the rounded parts."""
    refresh_lpc(cfg, cs, sv, c, t, n)
    al = lpc_sum(cs.w[LPC, c], cs.hist[XH, c], t, cfg.lpc_order)
    pre = 0 if cfg.cascade else cs.hist[XH, c, t - 1]
    a0 = stage_sum(cs.w[0, c], cs.hist[U, c], t, cfg.order0, cs.sums[c, STEP], cfg.rate0)
    ac = cross_sum(cs, c, t, cfg.stereo_taps) if cfg.stereo_taps > 0 else 0
    a1 = stage_sum(cs.w[1, c], cs.hist[U + 1, c], t, cfg.order1, cs.sums[c, STEP + 1], cfg.rate1)
    a2 = stage_sum(cs.w[2, c], cs.hist[U + 2, c], t, cfg.order2, cs.sums[c, STEP + 2], cfg.rate2)
    cs.sums[c, STEP:STEP + 3] = 0
    pl = rounded(al, 20)
    fine = FINE if cfg.fine_inputs else 0  # the stages' sums carry this many more fractional bits
    if fine:
        cs.sums[c, PART] = rounded(al, 20 - fine)
        cs.sums[c, PART + 1] = rounded(a0, W_BITS) + rounded(ac, W_BITS)
        cs.sums[c, PART + 2] = rounded(a1, W_BITS)
        cs.sums[c, PART + 3] = rounded(a2, W_BITS)
    p0 = rounded(a0, W_BITS + fine) + rounded(ac, W_BITS + fine)
    p1 = rounded(a1, W_BITS + fine)
    p2 = rounded(a2, W_BITS + fine)
    if not cfg.fine_sum:
        return pre, pl, p0, p1, p2, pre + pl + p0 + p1 + p2
    sh = 4 + fine
    if cfg.stage_mix:
        exact = stagemix.mixed(cs.mix[c], al >> 8, (a0 >> sh) + (ac >> sh), a1 >> sh, a2 >> sh)
        return pre, pl, p0, p1, p2, pre + rounded(exact, 12)
    # each sum is below 2**61; shifted to 12 fractional bits, five of them stay below 2**63
    exact = (al >> 8) + (a0 >> sh) + (ac >> sh) + (a1 >> sh) + (a2 >> sh)
    return pre, pl, p0, p1, p2, pre + rounded(exact, 12)


@njit(cache=True)
def nlms_step(order: int, err: int, energy: int, fine: int = 0) -> int:
    """A normalized LMS step, ``g = err 2**30 // (energy + 16 order)`` (0 without error or taps): each
    weight then moves by ``(g u[n-1-i] + half) >> (14 + rate)``, i.e. by err u 2**(16-rate) / (energy +
    16 order), rounded (:func:`stage_sum` takes it). |err| < 2**27 and ``energy >= u**2``:
    ``|g u| < 2**30 |err| / |u| < 2**57``. With ``fine`` fractional bits in the inputs and errors the floor
    scales with the energy (``16 order 2**(2 fine)``), so the step is the same."""
    if err == 0 or order == 0:
        return 0
    return (err << 30) // (energy + (order << (4 + 2 * fine)))


@njit(cache=True, inline="always")
def stage_energy(cfg: Any, cs: Cascade, c: int, k: int, order: int) -> int:
    """Stage ``k``'s window energy, with ``nlms_recent`` 3/4 of it plus 1/4 of ``order`` times its input's
    recent power (each at most 1.5 * 2**62, so the blend is too)."""
    energy = cs.sums[c, ENERGY + k]
    if cfg.nlms_recent == 0:
        return energy
    return energy - (energy >> 2) + ((order * cs.sums[c, POWER + k]) >> 2)


@njit(cache=True, inline="always")
def nlms_adapt(cfg: Any, cs: Cascade, c: int, e0: int, e1: int, e2: int) -> None:
    """The stages' normalized LMS steps, left pending for each stage's next :func:`stage_sum` (the stereo
    taps' taken now); with ``nlms_robust`` the error's square joins the denominator (|e| < 2**26: each sum
    stays below 2**63)."""
    q0 = e0 * e0 if cfg.nlms_robust else 0
    q1 = e1 * e1 if cfg.nlms_robust else 0
    q2 = e2 * e2 if cfg.nlms_robust else 0
    energy0 = stage_energy(cfg, cs, c, 0, cfg.order0) + cs.sums[c, E_CROSS] + q0
    fine = FINE if cfg.fine_inputs else 0
    g = nlms_step(cfg.order0, e0, energy0, fine)
    cs.sums[c, STEP] = g
    if cfg.stereo_taps > 0 and g != 0:
        sh = 14 + cfg.rate0
        for i in range(cfg.stereo_taps):
            cs.w[TAPS, c, i] = stepped(cs.w[TAPS, c, i], g, cs.cross[i], sh)
    cs.sums[c, STEP + 1] = nlms_step(cfg.order1, e1, stage_energy(cfg, cs, c, 1, cfg.order1) + q1, fine)
    cs.sums[c, STEP + 2] = nlms_step(cfg.order2, e2, stage_energy(cfg, cs, c, 2, cfg.order2) + q2, fine)


@njit(cache=True)
def abs_mean_step(a: int, v: int, shift: int) -> int:
    """Running mean of |v| in 1/16: a += (16 |v| - a) >> shift, at least 1."""
    if v < 0:
        v = -v
    if v > 1 << 40:
        v = 1 << 40
    a += ((v << 4) - a) >> shift
    return a if a > 16 else 16


@njit(cache=True, inline="always")
def window_step(cfg: Any, cs: Cascade, k: int, c: int, t: int, order: int, e: int) -> None:
    """Stage ``k``'s window after its new input ``e`` joins it (the oldest leaves), and its recent power
    (``nlms_recent``: ``p += (e**2 - p) >> nlms_recent``, never below 0)."""
    if order > 0:
        old = cs.hist[U + k, c, t - order]
        cs.sums[c, ENERGY + k] += e * e - old * old
        if cfg.nlms_recent:
            cs.sums[c, POWER + k] += (e * e - cs.sums[c, POWER + k]) >> cfg.nlms_recent
    cs.hist[U + k, c, t] = e
    cs.sums[c, A_U + k] = abs_mean_step(cs.sums[c, A_U + k], e, 4)


@njit(cache=True, inline="always")
def adapt(cfg: Any, cs: Cascade, sv: Solver, c: int, t: int, value: int, pre: int, pl: int, p0: int, p1: int,
          p2: int) -> None:
    """Take channel ``c``'s sample ``value`` at ``t`` (the parts of its prediction from :func:`predict`; with
    ``fine_inputs`` the stages learn from the finer parts :func:`predict` kept in ``PART`` instead)."""
    cs.hist[XH, c, t] = value
    cs.hist[XS, c, t] = value >> cs.sums[c, SHIFT]
    if cfg.lpc_covariance:
        cov.update(sv.lags[c], cs.hist[XS, c], t, cfg.lpc_order, cfg.lpc_decay, cs.sums[c, FRAC])
    elif cfg.lpc_order > 0:
        legacy.autocorrelation_update(sv.acf[c], cs.hist[XS, c], t, cfg.lpc_order, cfg.lpc_decay)
    if cfg.stage_mix:
        stagemix.adapt(cs.mix[c], value - pre)
    if cfg.fine_inputs:  # the residuals in 1/2**FINE of a sample, from the parts before rounding
        pl, p0, p1, p2 = cs.sums[c, PART], cs.sums[c, PART + 1], cs.sums[c, PART + 2], cs.sums[c, PART + 3]
        e_l = clamp(((value - pre) << FINE) - pl, U_CLIP)
    else:
        e_l = clamp(value - pre - pl, U_CLIP)
    e0 = clamp(e_l - p0, U_CLIP)
    e1 = clamp(e0 - p1, U_CLIP)
    e2 = clamp(e1 - p2, U_CLIP)
    if cfg.nlms:
        nlms_adapt(cfg, cs, c, e0, e1, e2)
    else:
        legacy.sign_lms_adapt(cfg, t, (e0, e1, e2), (cs.w[0, c], cs.w[1, c], cs.w[2, c]),
                              (cs.hist[U, c], cs.hist[U + 1, c], cs.hist[U + 2, c]), cs.sums[c, A_U:A_U + 3],
                              cs.w[TAPS, c], cs.cross)
    window_step(cfg, cs, 0, c, t, cfg.order0, e_l)
    window_step(cfg, cs, 1, c, t, cfg.order1, e0)
    window_step(cfg, cs, 2, c, t, cfg.order2, e1)
