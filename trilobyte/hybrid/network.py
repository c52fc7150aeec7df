"""The network: its integer inputs (features) and a forward pass to the mixture's parameters.

Features (units of 1/1024, clipped to +-8): recent residuals over their running scale ``A``, recent
prefiltered samples (``x[n] - 31/32 x[n-1]``) over theirs, the cascade's parts, log scales (in sample
units, or relative to full scale for models without ``absolute_scale``), the other
channel's residual, and (context features) whether the wide stages run and the bit depth. The network
(integer weights with 12 fractional bits, ReLU, 64-bit accumulators) gives per component a weight
(log2 domain), a centre offset and a log2 width relative to ``A``.

No sum overflows, for any model that loads (:func:`bounds` checks it there). The features are bounded
(:func:`feature_bounds`: at most 2**16, 139 of them), weights and biases by ``MAX_WEIGHT`` = 2**30, so
the first layer's sums stay below 2**51; the hidden layers' outputs are clamped to ``ACT_CLIP`` = 2**24
(16384 in real units), so with at most ``MAX_HIDDEN`` = 256 inputs the later layers' sums stay below
2**30 + 256 * 2**24 * 2**30 < 2**63, and the outputs below 2**51. The clamp changes nothing for a model
whose activations cannot reach it (``bounds``: every model trained so far, by far), so it codes exactly
as a kernel without it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from trilobyte.hybrid.cascade import abs_mean_step
from trilobyte.hybrid.intmath import bit_length

FEATURE_BITS = 10
FEATURE_CLIP = 8 << FEATURE_BITS
NET_BITS = 12
ACT_CLIP = 1 << 24  # hidden activations (10 fractional bits) are clamped here
MAX_WEIGHT = 1 << 30  # weights and biases, integers with 12 and 22 fractional bits
LOG_FEATURES = 3  # of the scalar features, the log scales: below 2**16 rather than FEATURE_CLIP
PI_BITS = 12  # component weights


D, RES = 0, 1  # rows of Context.hist
A_RES, A_SLOW, A_D, LAST = 0, 1, 2, 3  # columns of Context.sums
PI, M2, BQ, INV_B = 0, 1, 2, 3  # rows of a mixture's parameters (trilobyte.hybrid.residual reads them)


class Context(NamedTuple):
    """What the network sees beside the cascade's parts, per channel; over time as the cascade's."""

    hist: np.ndarray  # (2, channels, time): prefiltered samples (D), final residuals (RES)
    sums: np.ndarray  # (channels, 4): the residual's running scale A in 1/16 (A_RES), a slower one
    # (A_SLOW), the prefiltered samples' (A_D), the last residual over A (LAST: the other channel's feature)
    f: np.ndarray  # (features,) the current sample's features


@njit(cache=True)
def new_context(channels: int, length: int, n_feat: int) -> Context:
    sums = np.zeros((channels, 4), dtype=np.int64)
    sums[:, A_RES:LAST] = 16 << 4
    return Context(np.zeros((2, channels, length), dtype=np.int64), sums, np.zeros(n_feat, dtype=np.int64))


@njit(cache=True)
def new_mixture(k_count: int) -> np.ndarray:
    """Per component (columns): its weight in 2**-12 (PI, summing to 2**12), its centre as twice the
    offset from the prediction (M2), its logistic's scale (BQ, at least 1) and 2**40 // BQ (INV_B)."""
    return np.zeros((4, k_count), dtype=np.int64)


@njit(cache=True)
def log2_q10(v: int) -> int:
    """log2(v) for v >= 1 in 1/1024, the mantissa linearly interpolated (monotone)."""
    b = bit_length(v) - 1
    mant = v >> b - FEATURE_BITS if b >= FEATURE_BITS else v << FEATURE_BITS - b
    return (b << FEATURE_BITS) + mant - (1 << FEATURE_BITS)


@njit(cache=True)
def exp2_q16(t: int, ex2: np.ndarray) -> int:
    """2**(t/1024) in 1/65536 for t in [-30*1024, 30*1024] (clamped)."""
    if t < -30 * 1024:
        t = -30 * 1024
    elif t > 30 * 1024:
        t = 30 * 1024
    i = t >> 10
    m = ex2[t & 1023]
    if i >= 0:
        return m << i
    return m >> (-i)


@njit(cache=True)
def normalized(v: int, scale: int, inv: int) -> int:
    """v / (scale / 16) in 1/1024, clipped to +-8; ``inv = 2**44 // scale``."""
    lim = (scale >> 1) + 1
    if v > lim:
        v = lim
    elif v < -lim:
        v = -lim
    f = (v * inv) >> 30  # |v * inv| <= (scale/2 + 1) * 2**44 / scale < 2**45
    if f > FEATURE_CLIP:
        return FEATURE_CLIP
    if f < -FEATURE_CLIP:
        return -FEATURE_CLIP
    return f


@njit(cache=True, inline="always")
def features(cfg: Any, ctx: Context, xh: np.ndarray, c: int, t: int, channels: int, pre: int, pl: int, p0: int,
             p1: int, p2: int) -> None:
    """Channel ``c``'s features at ``t`` into ``ctx.f`` (``xh``: its samples so far; the cascade's parts)."""
    f, bits, hist = ctx.f, cfg.bit_depth, cfg.history
    a, a_d = ctx.sums[c, A_RES], ctx.sums[c, A_D]
    inv_a = (1 << 44) // a
    inv_ad = (1 << 44) // a_d
    for i in range(hist):
        f[i] = normalized(ctx.hist[RES, c, t - 1 - i], a, inv_a)
        f[hist + i] = normalized(ctx.hist[D, c, t - 1 - i], a_d, inv_ad)
    j = 2 * hist
    f[j] = normalized(pl + pre - ((31 * xh[t - 1]) >> 5), a_d, inv_ad)
    f[j + 1] = normalized(p0, a, inv_a)
    f[j + 2] = normalized(p1 + p2, a, inv_a)
    # the scales are in 1/16 of a sample: less 4, log2 in sample units (absolute_scale), else less the depth
    offset = (4 if cfg.absolute_scale else bits - 12) << FEATURE_BITS
    f[j + 3] = log2_q10(a) - offset
    f[j + 4] = log2_q10(a_d) - offset
    f[j + 5] = log2_q10(a) - log2_q10(ctx.sums[c, A_SLOW])
    f[j + 6] = ctx.sums[1 - c, LAST] if channels == 2 else 0
    f[j + 7] = (1 << FEATURE_BITS) if channels == 2 else 0
    f[j + 8] = (1 << FEATURE_BITS) if c == 1 else 0
    if cfg.context_features > 0:
        f[j + 9] = cfg.wide << FEATURE_BITS
    if cfg.context_features > 1:
        f[j + 10] = ((bits - 16) << FEATURE_BITS) >> 3


@njit(cache=True, inline="always")
def observe(cfg: Any, ctx: Context, xh: np.ndarray, c: int, t: int, value: int, pred: int) -> None:
    """Take channel ``c``'s sample ``value`` at ``t``, predicted as ``pred`` (``xh``: its samples)."""
    d = value - ((31 * xh[t - 1]) >> 5)
    ctx.hist[D, c, t] = d
    ctx.sums[c, A_D] = abs_mean_step(ctx.sums[c, A_D], d, 4)
    a = ctx.sums[c, A_RES]
    r = value - pred
    ctx.hist[RES, c, t] = r
    ctx.sums[c, LAST] = normalized(r, a, (1 << 44) // a)
    ctx.sums[c, A_RES] = abs_mean_step(a, r, cfg.scale_shift)
    ctx.sums[c, A_SLOW] = abs_mean_step(ctx.sums[c, A_SLOW], r, 7)


@njit(cache=True)
def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray, relu: bool) -> None:
    """out = (b + x @ w) >> 12 (weights 12 fractional bits, x and out 10); a hidden layer (``relu``) clips
    it to [0, ACT_CLIP]."""
    n_in, n_out = w.shape
    for j in range(n_out):
        acc = b[j]
        for i in range(n_in):
            acc += x[i] * w[i, j]
        if relu:  # a hidden layer: ReLU, then the clamp (see the module's bounds)
            out[j] = min(acc >> NET_BITS, ACT_CLIP) if acc > 0 else 0
        else:
            out[j] = acc >> NET_BITS


@njit(cache=True, inline="always")
def forward(f: np.ndarray, net: tuple, layers: np.ndarray) -> None:
    """The network's outputs for features ``f`` into ``layers[2]`` (``layers[0]``, ``[1]``: the hidden
    layers', each row as wide as the widest layer); ``net``: (w1, b1, w2, b2, w3, b3)."""
    w1, b1, w2, b2, w3, b3 = net
    dense(f, w1, b1, layers[0], True)
    dense(layers[0], w2, b2, layers[1], True)
    dense(layers[1], w3, b3, layers[2], False)


@njit(cache=True, inline="always")
def mixture(out: np.ndarray, a: int, ex2: np.ndarray, mix: np.ndarray, round_centre: bool) -> None:
    """The mixture's parameters (:func:`new_mixture`) from the network's outputs ``out`` at residual scale
    ``a``: weights by a softmax in base 2 (the rounding's spare to the heaviest), centres ``mu a`` (in half
    samples, rounded to nearest with ``round_centre``, else down), widths ``2**lb a``."""
    half = 1 << 12 if round_centre else 0
    k_count = mix.shape[1]
    pi = mix[PI]
    lmax = out[0]
    for k in range(1, k_count):
        if out[3 * k] > lmax:
            lmax = out[3 * k]
    total = 0
    best = 0
    for k in range(k_count):
        pi[k] = exp2_q16(max(out[3 * k] - lmax, -20 << FEATURE_BITS), ex2)
        total += pi[k]
        if pi[k] > pi[best]:
            best = k
    spent = 0
    for k in range(k_count):
        pi[k] = (pi[k] << PI_BITS) // total
        spent += pi[k]
    pi[best] += (1 << PI_BITS) - spent
    for k in range(k_count):
        mu = min(max(out[3 * k + 1], -64 << FEATURE_BITS), 64 << FEATURE_BITS)
        mix[M2, k] = (mu * a + half) >> 13  # twice mu * a / 16, in half-units
        lb = min(max(out[3 * k + 2], -12 << FEATURE_BITS), 12 << FEATURE_BITS)
        b = (a * exp2_q16(lb, ex2)) >> 16  # a < 2**41, 2**(lb) < 2**29 (in 1/65536)
        mix[BQ, k] = b if b > 1 else 1
        mix[INV_B, k] = (1 << 40) // mix[BQ, k]


def feature_bounds(history: int, context_features: int) -> list[int]:
    """The largest magnitude each feature can take (in 1/1024), in :func:`features`' order.

    Clipped features stay within ``FEATURE_CLIP`` = 2**13; the scales are running means of magnitudes
    capped at 2**40 (in 1/16: at most 2**44, at least 16), so their log2 features lie between
    ``4 - 12`` and ``45 + 4`` (times 1024, for 8- to 24-bit audio) and their difference within +-41: all
    below 2**16; the flags and the context features are at most 1024.
    """
    clipped = [FEATURE_CLIP] * (2 * history + 3)
    return clipped + [1 << 16] * LOG_FEATURES + [FEATURE_CLIP] + [1 << FEATURE_BITS] * (2 + context_features)


def layer_bounds(w: np.ndarray, b: np.ndarray, inputs: list[int], after_relu: bool) -> tuple[list[int], int]:
    """(each unit's largest output after a ReLU, before the clamp; the largest magnitude any of the layer's
    partial sums reaches) for inputs of magnitude at most ``inputs`` (and non-negative ``after_relu``),
    in exact integers."""
    largest, worst = [], 0
    for j in range(w.shape[1]):
        column = [int(v) for v in w[:, j]]
        if after_relu:  # the inputs are in [0, bound]: only positive weights raise the sum
            top = int(b[j]) + sum(m * max(v, 0) for m, v in zip(inputs, column, strict=True))
        else:
            top = int(b[j]) + sum(m * abs(v) for m, v in zip(inputs, column, strict=True))
        worst = max(worst, abs(int(b[j])) + sum(m * abs(v) for m, v in zip(inputs, column, strict=True)))
        largest.append(max(top, 0) >> NET_BITS)
    return largest, worst


def bounds(weights: tuple[np.ndarray, ...], history: int, context_features: int) -> tuple[int, int]:
    """(the largest hidden activation the network can reach before the clamp, the largest magnitude any of
    its sums can reach) over every input the kernel can give it; ``weights``: (w1, b1, w2, b2, w3, b3)."""
    w1, b1, w2, b2, w3, b3 = weights
    h1, worst1 = layer_bounds(w1, b1, feature_bounds(history, context_features), after_relu=False)
    h2, worst2 = layer_bounds(w2, b2, [min(h, ACT_CLIP) for h in h1], after_relu=True)
    _, worst3 = layer_bounds(w3, b3, [min(h, ACT_CLIP) for h in h2], after_relu=True)
    return max(h1 + h2), max(worst1, worst2, worst3)
