"""The kernel's older ways, kept so that models saved before the newer ones (and the files they wrote)
decode bit for bit; new models do not use them.

Each older setting (``settings.LEGACY``) and where it acts:

- ``lpc_covariance`` off: the LPC stage solves an autocorrelation window by Levinson-Durbin
  (:func:`levinson`, :func:`autocorrelation_update`) instead of :mod:`trilobyte.hybrid.covariance`;
- ``nlms`` off: the adaptive stages adapt by sign-error LMS (:func:`sign_lms_adapt`);
- ``nlms_robust`` off: normalized LMS without the error's square (:func:`trilobyte.hybrid.cascade.nlms_adapt`);
- ``lpc_cover_rhs`` off, ``lpc_warmup`` 0: arguments of :func:`trilobyte.hybrid.covariance.solve`;
- ``stereo_modes`` off: no stereo mode in the stream (the ``stereo`` field -1);
- ``context_features`` below 2: fewer network inputs (:func:`trilobyte.hybrid.network.features`);
- ``absolute_scale`` off: the log-scale inputs relative to full scale (:func:`trilobyte.hybrid.network.features`);
- ``round_centre`` off: the mixture's centres rounded down (:func:`trilobyte.hybrid.network.mixture`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from trilobyte.hybrid.intmath import bit_length

W_CLIP = 1 << 24  # as the cascade's


@njit(cache=True)
def autocorrelation_update(r: np.ndarray, xs: np.ndarray, t: int, order: int, decay: int) -> None:
    """Exponentially windowed autocorrelation: r[k] += xs[t] xs[t-k] - r[k] >> decay (|xs| < 2**20)."""
    v = xs[t]
    for k in range(order + 1):
        r[k] += v * xs[t - k] - (r[k] >> decay)


@njit(cache=True)
def levinson(r: np.ndarray, order: int, coef: np.ndarray, tmp: np.ndarray) -> None:
    """Predictor coefficients (20 fractional bits) from an autocorrelation, Levinson-Durbin in integers.

    The autocorrelation is shifted to at most 2**26, its lag 0 raised by 1/1024 (white noise); the
    recursion stops at the last stable order (a reflection coefficient of magnitude >= 1).
    """
    for j in range(order):
        coef[j] = 0
    if r[0] <= 0:
        return
    sh = bit_length(r[0]) - 26
    if sh < 0:
        sh = 0
    e = (r[0] >> sh) + ((r[0] >> sh) >> 10) + 1
    for i in range(1, order + 1):
        acc = (r[i] >> sh) << 20
        for j in range(1, i):
            acc -= coef[j - 1] * (r[i - j] >> sh)
        k = acc // e
        if k >= 1 << 20 or k <= -(1 << 20):
            return
        for j in range(1, i):
            tmp[j - 1] = coef[j - 1] - ((k * coef[i - j - 1]) >> 20)
        for j in range(1, i):
            coef[j - 1] = min(max(tmp[j - 1], -(1 << 27)), 1 << 27)
        coef[i - 1] = k
        e -= (((k * k) >> 20) * e) >> 20
        if e < 1:
            e = 1


@njit(cache=True)
def sign_step(v: int, err: int, inv: int, rate: int) -> int:
    """sign(err) sign(v) (|v| inv >> rate): one weight's step (|v| < 2**26, inv <= 2**30)."""
    step = ((v if v > 0 else -v) * inv) >> rate
    return -step if (v > 0) != (err > 0) else step


@njit(cache=True)
def stage_update(w: np.ndarray, u: np.ndarray, n: int, order: int, err: int, inv: int, rate: int) -> None:
    """Sign-error LMS step: w[i] += sign(err) sign(u) (|u| inv >> rate), weights clipped."""
    if err == 0:
        return
    for i in range(order):
        v = u[n - 1 - i]
        if v == 0:
            continue
        nw = w[i] + sign_step(v, err, inv, rate)
        if nw > W_CLIP:
            nw = W_CLIP
        elif nw < -W_CLIP:
            nw = -W_CLIP
        w[i] = nw


@njit(cache=True)
def sign_lms_adapt(cfg: Any, t: int, e: tuple[int, int, int], w: tuple[np.ndarray, np.ndarray, np.ndarray],
                   u: tuple[np.ndarray, np.ndarray, np.ndarray], a_u: np.ndarray, wx: np.ndarray,
                   cross: np.ndarray) -> None:
    """The stages' sign-error LMS steps: stage k's weights ``w[k]`` on its inputs ``u[k]`` for its error
    ``e[k]``, normalized by its input's running magnitude ``a_u[k]``; ``wx`` the stereo taps' weights."""
    inv0 = (1 << 34) // (a_u[0] + 16)
    stage_update(w[0], u[0], t, cfg.order0, e[0], inv0, cfg.rate0)
    if cfg.stereo_taps > 0 and e[0] != 0:
        for i in range(cfg.stereo_taps):
            v = cross[i]
            if v != 0:
                wx[i] = min(max(wx[i] + sign_step(v, e[0], inv0, cfg.rate0), -W_CLIP), W_CLIP)
    stage_update(w[1], u[1], t, cfg.order1, e[1], (1 << 34) // (a_u[1] + 16), cfg.rate1)
    stage_update(w[2], u[2], t, cfg.order2, e[2], (1 << 34) // (a_u[2] + 16), cfg.rate2)
