"""The integer kernel: one frame's cascade, network, distribution and range coding, sample by sample.

Everything here is integer arithmetic on int64 (uint64 inside the range coder) with a defined rounding:
``>>`` is an arithmetic shift (floor), ``//`` floors, every sum runs in index order, nothing overflows
for 8- to 24-bit audio (bounds in the comments). The same function encodes, decodes and extracts
training features, so the encoder and the decoder cannot drift apart.

Per channel and sample, with the history before the frame taken as zero:

1. an LPC stage (coefficients with 20 fractional bits, re-solved every ``lpc_every`` samples from an
   exponentially weighted window of the past: by the covariance method's least squares, an integer
   Cholesky factorization (:mod:`trilobyte.hybrid.covariance`), or in models from before it by an
   integer Levinson-Durbin recursion on the window's autocorrelation) predicts ``x``; adaptive stages
   predict its residual (stage 0, order ``orders[0]``, plus ``stereo_taps`` taps of the other channel's
   LPC residual: the second channel sees the first one's current one), stage 0's residual (stage 1) and
   stage 1's residual (stage 2). Weights have 16 fractional bits; each adapts by
   normalized LMS (error times input over the window's energy, kept as an exact running sum, plus the
   error's square in models from ``nlms_robust`` on) or, in
   models from before it, by sign-error LMS normalized by its input's running magnitude. Stage inputs
   and errors are clamped to +-2**26. The prediction ``P`` is the sum of the stages'
   predictions, clamped to the sample range (without the cascade: the previous sample).
2. features (units of 1/1024, clipped to +-8): recent residuals over their running scale ``A``, recent
   prefiltered samples over theirs, the stages' predictions, log scales, the other channel's residual,
   and (context features) whether the wide stages run and the bit depth.
3. the network (integer weights with 12 fractional bits, ReLU, 64-bit accumulators) gives per
   component a weight (log2 domain), a centre offset and a log2 width relative to ``A``.
4. the residual ``r = x - P`` falls in a bin ``q = r >> s`` of width ``2**s`` (``s`` from ``A``); the bins
   ``-L..L-1`` and two escapes form one alphabet whose cumulative frequencies
   ``C(i) = i + G(edge_i) * (2**24 - M) >> 34`` come from the mixture's CDF ``G`` (a table of the
   logistic, linear interpolation): every symbol has frequency >= 1, the total is exactly 2**24.
   An escape is followed by an Elias-gamma code of the overshoot; the ``s`` low bits are uniform.
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit

from trilobyte.hybrid import covariance as cov
from trilobyte.hybrid import intmath, jitcache
from trilobyte.hybrid import rangecoder as rc
from trilobyte.hybrid.intmath import bit_length, clamp
from trilobyte.hybrid.settings import MAX_ORDER

ENCODE, DECODE, FEATURES = 0, 1, 2
OK, BAD_DATA, BAD_VALUE, OVERFLOW = 0, 1, 2, 3
PAD = MAX_ORDER + 2
W_BITS = 16
W_CLIP = 1 << 24
U_CLIP = 1 << 26  # stage inputs and errors are clamped here: window energies stay below 2**62
STEREO_MAX = 32
FEATURE_BITS = 10
FEATURE_CLIP = 8 << FEATURE_BITS
NET_BITS = 12
TOTAL = 1 << rc.PRECISION
G_BITS = 34  # mixture CDF: component weights (12 bits) times logistic values (22 bits)
SCALE_MIN = 16  # running scales in 1/16, at least 1


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


@njit(cache=True)
def mixture_cdf(e2: int, k_count: int, pi: np.ndarray, m2: np.ndarray, bq: np.ndarray, inv_b: np.ndarray,
                sig: np.ndarray) -> int:
    """The mixture's CDF at the half-integer edge ``e2 / 2`` (relative to the prediction), in 2**-34."""
    g = 0
    for k in range(k_count):
        d = e2 - m2[k]
        lim = 3 * bq[k]  # beyond 3 B the logistic table is saturated (|t| > 16)
        if d > lim:
            d = lim
        elif d < -lim:
            d = -lim
        g += pi[k] * logistic(d, inv_b[k], sig)
    return g


@njit(cache=True)
def cumulative(i: int, m: int, half: int, s: int, k_count: int, pi: np.ndarray, m2: np.ndarray, bq: np.ndarray,
               inv_b: np.ndarray, sig: np.ndarray) -> int:
    """C(i) of the alphabet [escape-, bins -L..L-1, escape+] (M symbols, every frequency >= 1)."""
    if i <= 0:
        return 0
    if i >= m:
        return TOTAL
    q = i - 1 - half
    e2 = ((q << s) << 1) - 1
    g = mixture_cdf(e2, k_count, pi, m2, bq, inv_b, sig)
    return i + ((g * (TOTAL - m)) >> G_BITS)


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


@njit(cache=True)
def stage_predict(w: np.ndarray, u: np.ndarray, n: int, order: int) -> int:
    """sum w[i] u[n-1-i] with 16 fractional bits, rounded (|w| < 2**24, |u| < 2**26, order <= 1024)."""
    acc = 0
    for i in range(order):
        acc += w[i] * u[n - 1 - i]
    return (acc + (1 << (W_BITS - 1))) >> W_BITS


@njit(cache=True)
def stage_update(w: np.ndarray, u: np.ndarray, n: int, order: int, err: int, inv: int, rate: int) -> None:
    """Sign-error LMS step: w[i] += sign(err) sign(u) (|u| inv >> rate), weights clipped."""
    if err == 0:
        return
    for i in range(order):
        v = u[n - 1 - i]
        if v == 0:
            continue
        step = ((v if v > 0 else -v) * inv) >> rate  # |v| < 2**26, inv <= 2**30
        if (v > 0) != (err > 0):
            step = -step
        nw = w[i] + step
        if nw > W_CLIP:
            nw = W_CLIP
        elif nw < -W_CLIP:
            nw = -W_CLIP
        w[i] = nw


@njit(cache=True)
def nlms_update(w: np.ndarray, u: np.ndarray, n: int, order: int, err: int, energy: int, rate: int) -> None:
    """Normalized LMS step: w[i] += err u[n-1-i] 2**(16-rate) / (energy + 16 order), rounded, clipped.

    ``g = err 2**30 // (energy + 16 order)`` (|err| < 2**27), then ``(g u + half) >> (14 + rate)``; since
    ``energy >= u**2``, ``|g u| < 2**30 |err| / |u| < 2**57``.
    """
    if err == 0 or order == 0:
        return
    g = (err << 30) // (energy + (order << 4))
    sh = 14 + rate
    half = 1 << (sh - 1)
    for i in range(order):
        nw = w[i] + ((g * u[n - 1 - i] + half) >> sh)
        w[i] = min(max(nw, -W_CLIP), W_CLIP)


@njit(cache=True)
def lpc_update(r: np.ndarray, xs: np.ndarray, t: int, order: int, decay: int) -> None:
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
def lpc_predict(coef: np.ndarray, x: np.ndarray, t: int, order: int) -> int:
    acc = 0
    for j in range(order):
        acc += coef[j] * x[t - 1 - j]
    return (acc + (1 << 19)) >> 20


@njit(cache=True)
def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray, relu: bool) -> None:
    """out = (b + x @ w) >> 12, ReLU first if asked (weights 12 fractional bits, x and out 10)."""
    n_in, n_out = w.shape
    for j in range(n_out):
        acc = b[j]
        for i in range(n_in):
            acc += x[i] * w[i, j]
        if relu and acc < 0:
            acc = 0
        out[j] = acc >> NET_BITS


@njit(cache=True)
def abs_mean_step(a: int, v: int, shift: int) -> int:
    """Running mean of |v| in 1/16: a += (16 |v| - a) >> shift, at least 1."""
    if v < 0:
        v = -v
    if v > 1 << 40:
        v = 1 << 40
    a += ((v << 4) - a) >> shift
    return a if a > SCALE_MIN else SCALE_MIN


@njit(cache=True)
def run_frame(mode: int, x: np.ndarray, cfg: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
              b2: np.ndarray, w3: np.ndarray, b3: np.ndarray, sig: np.ndarray, ex2: np.ndarray,
              words: np.ndarray, feats: np.ndarray, aux: np.ndarray) -> tuple:
    """Encode ``x`` into ``words``, decode ``words`` into ``x``, or write features; (status, words used).

    ``x`` is ``(n, channels)`` int64; in FEATURES mode ``feats`` receives one row per sample and channel
    (time-major) and ``aux`` the residual, its scale (1/16) and the bin shift.
    """
    n_samples, channels = x.shape
    o0, o1, o2 = cfg[0], cfg[1], cfg[2]
    r0, r1, r2 = cfg[3], cfg[4], cfg[5]
    lpc_order, lpc_decay, lpc_every = cfg[6], cfg[7], cfg[8]
    hist = cfg[9]
    k_count = cfg[10]
    bin_bits = cfg[11]
    half = cfg[12]
    bits = cfg[13]
    pre_coef = 0 if cfg[14] else 32  # without the cascade, the previous sample predicts
    use_nlms = cfg[15] != 0
    taps = cfg[16] if channels == 2 and o0 > 0 else 0
    scale_shift = cfg[17]
    m = 2 * half + 2
    lo_val = -(1 << (bits - 1))
    hi_val = (1 << (bits - 1)) - 1
    x_shift = bits - 20 if bits > 20 else 0
    wide = cfg[18]
    stereo = cfg[20] if channels == 2 else -1  # -1: no stereo mode in the stream (older models)
    n_feat = 2 * hist + 9 + cfg[19]
    covariant = cfg[21] != 0 and lpc_order > 0  # the LPC stage by the covariance method
    ridge = cfg[22]
    robust = cfg[23] != 0  # normalized LMS steps over the window's energy plus the error's square
    cover_rhs = cfg[24] != 0  # the covariance system's scale covers its right-hand side
    warmup = cfg[25]

    length = PAD + n_samples
    xh = np.zeros((channels, length), dtype=np.int64)
    xs = np.zeros((channels, length), dtype=np.int64)
    d = np.zeros((channels, length), dtype=np.int64)
    u0 = np.zeros((channels, length), dtype=np.int64)
    u1 = np.zeros((channels, length), dtype=np.int64)
    u2 = np.zeros((channels, length), dtype=np.int64)
    res = np.zeros((channels, length), dtype=np.int64)
    acf = np.zeros((channels, MAX_ORDER + 1), dtype=np.int64)
    coef = np.zeros((channels, MAX_ORDER), dtype=np.int64)
    tmp = np.zeros(MAX_ORDER, dtype=np.int64)
    cov_size = lpc_order + 1 if covariant else 1
    lags = np.zeros((channels, cov_size, cov_size), dtype=np.int64)  # each channel's ring of lag sums
    a_cov = np.zeros((cov_size, cov_size), dtype=np.int64)
    y_cov = np.zeros(cov_size, dtype=np.int64)
    wt0 = np.zeros((channels, MAX_ORDER), dtype=np.int64)
    wt1 = np.zeros((channels, MAX_ORDER), dtype=np.int64)
    wt2 = np.zeros((channels, MAX_ORDER), dtype=np.int64)
    wx = np.zeros((channels, STEREO_MAX), dtype=np.int64)
    cross = np.zeros(STEREO_MAX, dtype=np.int64)
    energy = np.zeros((channels, 3), dtype=np.int64)
    e_cross = np.zeros(channels, dtype=np.int64)
    a_res = np.full(channels, 16 << 4, dtype=np.int64)
    a_slow = np.full(channels, 16 << 4, dtype=np.int64)
    a_d = np.full(channels, 16 << 4, dtype=np.int64)
    a_u0 = np.full(channels, 16 << 4, dtype=np.int64)
    a_u1 = np.full(channels, 16 << 4, dtype=np.int64)
    a_u2 = np.full(channels, 16 << 4, dtype=np.int64)
    last_norm = np.zeros(channels, dtype=np.int64)

    f = np.zeros(n_feat, dtype=np.int64)
    h1 = np.zeros(w1.shape[1], dtype=np.int64)
    h2 = np.zeros(w2.shape[1], dtype=np.int64)
    out = np.zeros(w3.shape[1], dtype=np.int64)
    pi = np.zeros(k_count, dtype=np.int64)
    m2 = np.zeros(k_count, dtype=np.int64)
    bq = np.zeros(k_count, dtype=np.int64)
    inv_b = np.zeros(k_count, dtype=np.int64)

    st = np.zeros(5, dtype=np.uint64)
    io = np.zeros(1, dtype=np.int64)
    if mode == DECODE:
        rc.decoder_init(st, io, words)
    else:
        rc.encoder_init(st, io)

    # the stereo mode (2 uniform bits first in the stream): 0 left and right, 1 left and right - left,
    # 2 mid (left + right) >> 1 and side left - right; a side channel has one bit more of range
    joint = 0
    if stereo >= 0:
        if mode == DECODE:
            joint = decode_uniform(st, io, words, 2)
            if joint < 0 or joint > 2:
                return BAD_DATA, io[0]
        else:
            joint = stereo
            if mode == ENCODE:
                encode_uniform(st, io, words, joint, 2)
    lo_c = np.full(channels, lo_val, dtype=np.int64)
    hi_c = np.full(channels, hi_val, dtype=np.int64)
    shift_c = np.full(channels, x_shift, dtype=np.int64)
    if joint > 0:
        lo_c[1] = -(1 << bits)
        hi_c[1] = (1 << bits) - 1
        shift_c[1] = bits + 1 - 20 if bits + 1 > 20 else 0
    y = np.zeros(channels, dtype=np.int64)

    row = 0
    for n in range(n_samples):
        t = PAD + n
        if mode != DECODE:
            for c in range(channels):
                y[c] = x[n, c]
            if joint == 1:
                y[1] = x[n, 1] - x[n, 0]
            elif joint == 2:
                y[0] = (x[n, 0] + x[n, 1]) >> 1
                y[1] = x[n, 0] - x[n, 1]
        for c in range(channels):
            # -- the cascade's prediction
            refresh = lpc_order > 0 and n % lpc_every == 0 and n > 0
            if refresh and covariant:
                cov.solve(lags[c], t, lpc_order, ridge, lpc_decay, coef[c], a_cov, y_cov, cover_rhs,
                          lpc_order if warmup == 0 else min(lpc_order, n >> warmup))
            elif refresh:
                levinson(acf[c], lpc_order, coef[c], tmp)
            pl = lpc_predict(coef[c], xh[c], t, lpc_order)
            pre = (pre_coef * xh[c, t - 1]) >> 5
            inv0 = (1 << 34) // (a_u0[c] + 16)
            p0 = stage_predict(wt0[c], u0[c], t, o0)
            if taps > 0:
                acc = 0
                e_cross[c] = 0
                for i in range(taps):
                    cross[i] = u0[0, t - i] if c == 1 else u0[1, t - 1 - i]
                    acc += wx[c, i] * cross[i]
                    e_cross[c] += cross[i] * cross[i]
                p0 += (acc + (1 << (W_BITS - 1))) >> W_BITS
            p1 = stage_predict(wt1[c], u1[c], t, o1)
            p2 = stage_predict(wt2[c], u2[c], t, o2)
            pred = pre + pl + p0 + p1 + p2
            if pred < lo_c[c]:
                pred = lo_c[c]
            elif pred > hi_c[c]:
                pred = hi_c[c]

            # -- features and the network
            a = a_res[c]
            inv_a = (1 << 44) // a
            inv_ad = (1 << 44) // a_d[c]
            for i in range(hist):
                f[i] = normalized(res[c, t - 1 - i], a, inv_a)
                f[hist + i] = normalized(d[c, t - 1 - i], a_d[c], inv_ad)
            j = 2 * hist
            f[j] = normalized(pl + pre - ((31 * xh[c, t - 1]) >> 5), a_d[c], inv_ad)
            f[j + 1] = normalized(p0, a, inv_a)
            f[j + 2] = normalized(p1 + p2, a, inv_a)
            f[j + 3] = log2_q10(a) - ((bits - 12) << FEATURE_BITS)
            f[j + 4] = log2_q10(a_d[c]) - ((bits - 12) << FEATURE_BITS)
            f[j + 5] = log2_q10(a) - log2_q10(a_slow[c])
            f[j + 6] = last_norm[1 - c] if channels == 2 else 0
            f[j + 7] = (1 << FEATURE_BITS) if channels == 2 else 0
            f[j + 8] = (1 << FEATURE_BITS) if c == 1 else 0
            if n_feat > j + 9:
                f[j + 9] = wide << FEATURE_BITS
            if n_feat > j + 10:
                f[j + 10] = ((bits - 16) << FEATURE_BITS) >> 3
            s = bit_length(a >> 4) - bin_bits
            if s < 0:
                s = 0

            if mode == FEATURES:
                for i in range(n_feat):
                    feats[row, i] = f[i]
            else:
                dense(f, w1, b1, h1, True)
                dense(h1, w2, b2, h2, True)
                dense(h2, w3, b3, out, False)
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
                    pi[k] = (pi[k] << 12) // total
                    spent += pi[k]
                pi[best] += (1 << 12) - spent
                for k in range(k_count):
                    mu = min(max(out[3 * k + 1], -64 << FEATURE_BITS), 64 << FEATURE_BITS)
                    m2[k] = (mu * a) >> 13  # twice mu * a / 16, in half-units
                    lb = min(max(out[3 * k + 2], -12 << FEATURE_BITS), 12 << FEATURE_BITS)
                    b = (a * exp2_q16(lb, ex2)) >> 16  # a < 2**41, 2**(lb) < 2**29 (in 1/65536)
                    bq[k] = b if b > 1 else 1
                    inv_b[k] = (1 << 40) // bq[k]

            # -- code (or decode) the residual
            if mode == DECODE:
                target = rc.quantile(st)
                if target < 0:
                    return BAD_DATA, io[0]
                low, high = 0, m
                while high - low > 1:
                    mid = (low + high) >> 1
                    if cumulative(mid, m, half, s, k_count, pi, m2, bq, inv_b, sig) <= target:
                        low = mid
                    else:
                        high = mid
                c_lo = cumulative(low, m, half, s, k_count, pi, m2, bq, inv_b, sig)
                c_hi = cumulative(low + 1, m, half, s, k_count, pi, m2, bq, inv_b, sig)
                rc.consume(st, io, words, c_lo, c_hi - c_lo)
                if low == 0 or low == m - 1:
                    nb = decode_uniform(st, io, words, 5)
                    if nb < 1 or nb > 30:
                        return BAD_DATA, io[0]
                    rest = decode_uniform(st, io, words, nb - 1)
                    if rest < 0:
                        return BAD_DATA, io[0]
                    over = ((1 << (nb - 1)) | rest) - 1
                    q = -half - 1 - over if low == 0 else half + over
                else:
                    q = low - 1 - half
                low_bits = decode_uniform(st, io, words, s)
                if low_bits < 0:
                    return BAD_DATA, io[0]
                r = (q << s) + low_bits
                value = pred + r
                if value < lo_c[c] or value > hi_c[c]:
                    return BAD_VALUE, io[0]
                y[c] = value
            else:
                value = y[c]
                r = value - pred
                if mode == ENCODE:
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
                    c_lo = cumulative(sym, m, half, s, k_count, pi, m2, bq, inv_b, sig)
                    c_hi = cumulative(sym + 1, m, half, s, k_count, pi, m2, bq, inv_b, sig)
                    rc.encode(st, io, words, c_lo, c_hi - c_lo)
                    if over >= 0:
                        nb = bit_length(over + 1)
                        encode_uniform(st, io, words, nb, 5)
                        encode_uniform(st, io, words, over + 1, nb - 1)
                    encode_uniform(st, io, words, r - (q << s), s)
                else:
                    aux[row, 0] = r
                    aux[row, 1] = a
                    aux[row, 2] = s
            row += 1

            # -- adapt, knowing the sample
            xh[c, t] = value
            xs[c, t] = value >> shift_c[c]
            d[c, t] = value - ((31 * xh[c, t - 1]) >> 5)
            if covariant:
                cov.update(lags[c], xs[c], t, lpc_order, lpc_decay)
            elif lpc_order > 0:
                lpc_update(acf[c], xs[c], t, lpc_order, lpc_decay)
            e_l = clamp(value - pre - pl, U_CLIP)
            e0 = clamp(e_l - p0, U_CLIP)
            e1 = clamp(e0 - p1, U_CLIP)
            e2 = clamp(e1 - p2, U_CLIP)
            if use_nlms:
                # robust: the error's square joins the denominator (|e| < 2**26: each sum stays < 2**63)
                q0 = e0 * e0 if robust else 0
                q1 = e1 * e1 if robust else 0
                q2 = e2 * e2 if robust else 0
                nlms_update(wt0[c], u0[c], t, o0, e0, energy[c, 0] + e_cross[c] + q0, r0)
                if taps > 0 and e0 != 0:
                    g = (e0 << 30) // (energy[c, 0] + e_cross[c] + q0 + (o0 << 4))
                    for i in range(taps):
                        nw = wx[c, i] + ((g * cross[i] + (1 << (13 + r0))) >> (14 + r0))
                        wx[c, i] = min(max(nw, -W_CLIP), W_CLIP)
                nlms_update(wt1[c], u1[c], t, o1, e1, energy[c, 1] + q1, r1)
                nlms_update(wt2[c], u2[c], t, o2, e2, energy[c, 2] + q2, r2)
            else:
                stage_update(wt0[c], u0[c], t, o0, e0, inv0, r0)
                if taps > 0 and e0 != 0:
                    for i in range(taps):
                        v = cross[i]
                        if v != 0:
                            step = ((v if v > 0 else -v) * inv0) >> r0
                            if (v > 0) != (e0 > 0):
                                step = -step
                            wx[c, i] = min(max(wx[c, i] + step, -W_CLIP), W_CLIP)
                stage_update(wt1[c], u1[c], t, o1, e1, (1 << 34) // (a_u1[c] + 16), r1)
                stage_update(wt2[c], u2[c], t, o2, e2, (1 << 34) // (a_u2[c] + 16), r2)
            # the windows' energies after the sample joins them (the oldest leaves)
            if o0 > 0:
                energy[c, 0] += e_l * e_l - u0[c, t - o0] * u0[c, t - o0]
            if o1 > 0:
                energy[c, 1] += e0 * e0 - u1[c, t - o1] * u1[c, t - o1]
            if o2 > 0:
                energy[c, 2] += e1 * e1 - u2[c, t - o2] * u2[c, t - o2]
            u0[c, t] = e_l
            u1[c, t] = e0
            u2[c, t] = e1
            a_d[c] = abs_mean_step(a_d[c], d[c, t], 4)
            a_u0[c] = abs_mean_step(a_u0[c], e_l, 4)
            a_u1[c] = abs_mean_step(a_u1[c], e0, 4)
            a_u2[c] = abs_mean_step(a_u2[c], e1, 4)
            r_final = value - pred
            res[c, t] = r_final
            last_norm[c] = normalized(r_final, a, inv_a)
            a_res[c] = abs_mean_step(a, r_final, scale_shift)
            a_slow[c] = abs_mean_step(a_slow[c], r_final, 7)
        if mode == DECODE:
            if joint == 0:
                for c in range(channels):
                    x[n, c] = y[c]
            else:
                if joint == 1:
                    left = y[0]
                    right = y[1] + y[0]
                else:
                    total = (y[0] << 1) + (y[1] & 1)  # left + right: its parity is the side's
                    left = (total + y[1]) >> 1
                    right = (total - y[1]) >> 1
                if left < lo_val or left > hi_val or right < lo_val or right > hi_val:
                    return BAD_VALUE, io[0]
                x[n, 0] = left
                x[n, 1] = right

    if mode == ENCODE:
        used = rc.finish(st, io, words)
        if used > words.shape[0]:
            return OVERFLOW, used
        return OK, used
    return OK, io[0]


# before any of them is loaded from the cache: numba would not see a change in the modules it calls
jitcache.refresh(sys.modules[__name__], cov, intmath, rc)
