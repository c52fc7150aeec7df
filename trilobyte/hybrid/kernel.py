"""The integer kernel: one frame's cascade, network, mixture and range coding, sample by sample.

Everything here is integer arithmetic on int64 (uint64 inside the range coder) with a defined rounding:
``>>`` is an arithmetic shift (floor), ``//`` floors, every sum runs in index order, nothing overflows
for 8- to 24-bit audio (bounds in the comments). The same functions encode, decode and extract
training features, so the encoder and the decoder cannot drift apart.

Per channel and sample, with the history before the frame taken as zero, by stage:

1. the cascade (:mod:`trilobyte.hybrid.cascade`) predicts the sample; the prediction ``P`` is the sum
   of its parts, clamped to the sample range;
2. the network (:mod:`trilobyte.hybrid.network`) sees features of the past and the cascade's parts and
   gives a mixture of logistics for the residual;
3. the coder step (:mod:`trilobyte.hybrid.residual`) codes the residual under the mixture;
4. the cascade and the network's context take the sample.

A stereo frame first codes its stereo mode (2 uniform bits): 0 left and right, 1 left and
right - left, 2 mid (left + right) >> 1 and side left - right; a side channel has one bit more of range.
The settings arrive as a :class:`~trilobyte.hybrid.settings.KernelConfig`; the older models' ways live in
:mod:`trilobyte.hybrid.legacy`. :func:`run_frame` sets a frame up and runs :func:`run_samples` over its
blocks in turn, the state carrying over; a block coded some other way (FLAC) is only observed.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from trilobyte.hybrid import (
    calibration,
    cascade,
    covariance,
    intmath,
    jitcache,
    legacy,
    network,
    recent,
    residual,
    settings,
    stagemix,
    valueset,
)
from trilobyte.hybrid import rangecoder as rc
from trilobyte.hybrid.cascade import PAD, Cascade, Solver
from trilobyte.hybrid.network import Context
from trilobyte.hybrid.residual import BAD_DATA, BAD_VALUE, OK, OVERFLOW

ENCODE, DECODE, FEATURES, OBSERVE = 0, 1, 2, 3


LO, HI, Y = 0, 1, 2  # rows of Frame.chan


class Frame(NamedTuple):
    """A frame's state: the stages', the coder's and each coded channel's."""

    cascade: Cascade
    solver: Solver
    context: Context
    mixture: np.ndarray  # the mixture's parameters (network.new_mixture)
    scratch: np.ndarray  # (3, widest layer) the network's layer outputs
    coder: np.ndarray  # the range coder's state
    io: np.ndarray  # its position in the words
    chan: np.ndarray  # (3, channels): each coded channel's range (LO, HI) and current sample (Y)
    maps: np.ndarray  # (channels, ...) each coded channel's calibration (no columns without one)
    recent: np.ndarray  # (channels, ...) each coded channel's recent values (no columns without them)


@njit(cache=True)
def new_frame(cfg: Any, net: tuple, channels: int, samples: int) -> Frame:
    n_feat = 2 * cfg.history + 9 + cfg.context_features
    widest = max(net[0].shape[1], net[2].shape[1], net[4].shape[1])
    return Frame(cascade.new_cascade(channels, samples), cascade.new_solver(cfg, channels),
                 network.new_context(channels, PAD + samples, n_feat), network.new_mixture(cfg.components),
                 np.zeros((3, widest), dtype=np.int64), np.zeros(5, dtype=np.uint64), np.zeros(1, dtype=np.int64),
                 np.zeros((3, channels), dtype=np.int64),
                 calibration.new_maps(channels) if cfg.calibrate else np.zeros((channels, 0), dtype=np.int64),
                 recent.new_state(channels, cfg.bit_depth, cfg.recent))


@njit(cache=True)
def set_ranges(fr: Frame, cfg: Any, joint: int) -> None:
    """Each coded channel's sample range, its LPC input's shift (below 2**20) and the LPC lag sums'
    fractional bits in stereo mode ``joint``."""
    for c in range(fr.chan.shape[1]):
        wide = cfg.bit_depth + 1 if joint > 0 and c == 1 else cfg.bit_depth  # a side channel
        fr.chan[LO, c] = -(1 << (wide - 1))
        fr.chan[HI, c] = (1 << (wide - 1)) - 1
        fr.cascade.sums[c, cascade.SHIFT] = wide - 20 if wide > 20 else 0
        fr.cascade.sums[c, cascade.FRAC] = covariance.fraction_bits(cfg.lpc_fraction, min(wide, 20), cfg.lpc_decay)


@njit(cache=True, inline="always")
def split(x: np.ndarray, n: int, joint: int, y: np.ndarray) -> None:
    """Sample ``n``'s coded channels in stereo mode ``joint``."""
    for c in range(x.shape[1]):
        y[c] = x[n, c]
    if joint == 1:
        y[1] = x[n, 1] - x[n, 0]
    elif joint == 2:
        y[0] = (x[n, 0] + x[n, 1]) >> 1
        y[1] = x[n, 0] - x[n, 1]


@njit(cache=True, inline="always")
def join(y: np.ndarray, joint: int, bits: int, x: np.ndarray, n: int) -> bool:
    """Sample ``n`` from its coded channels; whether it lies in the bit depth's range."""
    if joint == 0:
        for c in range(x.shape[1]):
            x[n, c] = y[c]
        return True
    if joint == 1:
        left = y[0]
        right = y[1] + y[0]
    else:
        total = (y[0] << 1) + (y[1] & 1)  # left + right: its parity is the side's
        left = (total + y[1]) >> 1
        right = (total - y[1]) >> 1
    x[n, 0] = left
    x[n, 1] = right
    top = 1 << (bits - 1)
    return -top <= left < top and -top <= right < top


@njit(cache=True)
def stereo_mode(mode: int, cfg: Any, fr: Frame, words: np.ndarray) -> int:
    """The frame's stereo mode: written (or read) first in a stereo frame; -1 for invalid data."""
    if cfg.stereo < 0:
        return 0
    if mode == DECODE:
        joint = residual.decode_uniform(fr.coder, fr.io, words, 2)
        return joint if 0 <= joint <= 2 else -1
    if mode == ENCODE:
        residual.encode_uniform(fr.coder, fr.io, words, cfg.stereo, 2)
    return cfg.stereo


@njit(cache=True)
def run_samples(mode: int, x: np.ndarray, start: int, stop: int, joint: int, cfg: Any, fr: Frame, net: tuple,
                sig: np.ndarray, ex2: np.ndarray, words: np.ndarray, feats: np.ndarray, aux: np.ndarray,
                values: np.ndarray, edges: np.ndarray, counts: np.ndarray) -> int:
    """Samples ``start .. stop - 1`` of the frame ``x`` (stereo mode ``joint``), each channel through every
    stage: predicted, coded (or decoded, or its features written to row ``n * channels + c``), then taken
    by the stages. OBSERVE takes samples already in ``x`` without coding them (neither features nor a
    forward pass): the state afterwards is what coding them would have left. A coded channel ``c`` with
    ``counts[c] > 0`` is coded among its value table ``values[c, :counts[c]]``, whose cells ``edges[c]``
    gives (:func:`trilobyte.hybrid.valueset.cell_edges`). A status."""
    cs, sv, ctx, mix, scratch, chan = fr.cascade, fr.solver, fr.context, fr.mixture, fr.scratch, fr.chan
    channels = x.shape[1]
    for n in range(start, stop):
        t = PAD + n
        if mode != DECODE:
            split(x, n, joint, chan[Y])
        for c in range(channels):
            pre, pl, p0, p1, p2, whole = cascade.predict(cfg, cs, sv, c, t, n)
            pred = min(max(whole, chan[LO, c]), chan[HI, c])
            if mode != OBSERVE:  # the features and the mixture only code: no state depends on them
                network.features(cfg, ctx, cs.hist[cascade.XH, c], c, t, channels, pre, pl, p0, p1, p2)
            a = ctx.sums[c, network.A_RES]
            s = residual.bin_shift(a, cfg.bin_bits)
            if mode == FEATURES:
                row = n * channels + c
                for i in range(ctx.f.shape[0]):
                    feats[row, i] = ctx.f[i]
                aux[row, 0] = chan[Y, c] - pred
                aux[row, 1] = a
                aux[row, 2] = s
            elif mode != OBSERVE:
                network.forward(ctx.f, net, scratch)
                network.mixture(scratch[2], a, ex2, mix, cfg.round_centre)
            k = counts[c]
            base = g_lo = g_hi = mass = inside = 0
            if k > 0 and mode in (DECODE, ENCODE):
                base = valueset.nearest(values[c], k, pred)
                s = valueset.rank_shift(values[c], k, base, a, cfg.bin_bits)
            if mode == DECODE:
                status, r, g_lo, g_hi, mass, inside = residual.decode_residual(
                    fr.coder, fr.io, words, s, cfg.central_bins, mix, sig, values[c], edges[c], k, base, pred,
                    fr.maps[c], fr.recent[c], cfg.bit_depth)
                if status != OK:
                    return status
                if k > 0:
                    if not 0 <= base + r < k:
                        return BAD_VALUE
                    r = values[c, base + r] - pred
                if not chan[LO, c] <= pred + r <= chan[HI, c]:
                    return BAD_VALUE
                chan[Y, c] = pred + r
            elif mode == ENCODE:
                r = valueset.rank_of(values[c], k, chan[Y, c]) - base if k > 0 else chan[Y, c] - pred
                g_lo, g_hi, mass, inside = residual.encode_residual(
                    fr.coder, fr.io, words, r, s, cfg.central_bins, mix, sig, values[c], edges[c], k, base, pred,
                    fr.maps[c], fr.recent[c], cfg.bit_depth)
            if cfg.recent and mode in (DECODE, ENCODE):
                recent.adapt(fr.recent[c], mass, inside)
            if cfg.calibrate and mode in (DECODE, ENCODE):
                calibration.observe(fr.maps[c], g_lo, g_hi)
            value = chan[Y, c]
            cascade.adapt(cfg, cs, sv, c, t, value, pre, pl, p0, p1, p2)
            if cfg.recent:
                recent.observe(fr.recent[c], cfg.bit_depth, value)
            network.observe(cfg, ctx, cs.hist[cascade.XH, c], c, t, value, pred)
        if mode == DECODE and not join(chan[Y], joint, cfg.bit_depth, x, n):
            return BAD_VALUE
    return OK


@njit(cache=True)
def run_frame(mode: int, x: np.ndarray, cfg: Any, net: tuple, sig: np.ndarray, ex2: np.ndarray,
              words: np.ndarray, feats: np.ndarray, aux: np.ndarray, block: int, skip: np.ndarray,
              marks: np.ndarray, values: np.ndarray, edges: np.ndarray, counts: np.ndarray) -> tuple[int, int]:
    """Encode ``x`` into ``words``, decode ``words`` into ``x``, or write features; (status, words used).

    ``x`` is ``(n, channels)`` int64; ``cfg`` a :class:`~trilobyte.hybrid.settings.KernelConfig`; ``net``
    the network's (w1, b1, w2, b2, w3, b3); in FEATURES mode ``feats`` receives one row per sample and
    channel (time-major) and ``aux`` the residual, its scale (1/16) and the bin shift. The frame runs in
    blocks of ``block`` samples: block ``b`` is only observed (its samples already in ``x``) where
    ``skip[b]`` is nonzero, and ``marks[b]`` receives the words written or read by its end (``skip`` and
    ``marks`` hold ``ceil(n / block)`` entries). ``values`` ``(channels, K)`` and ``counts`` ``(channels,)``:
    each coded channel's value table (sorted, distinct, and holding every value the channel takes), or
    a count of 0 for a channel coded without one; ``edges`` ``(channels, K)``: its cells.
    """
    n_samples, channels = x.shape
    fr = new_frame(cfg, net, channels, n_samples)
    if mode == DECODE:
        rc.decoder_init(fr.coder, fr.io, words)
    else:
        rc.encoder_init(fr.coder, fr.io)
    joint = stereo_mode(mode, cfg, fr, words)
    if joint < 0:
        return BAD_DATA, fr.io[0]
    set_ranges(fr, cfg, joint)
    for b in range(skip.shape[0]):
        start = b * block
        stop = min(n_samples, start + block)
        status = run_samples(OBSERVE if skip[b] else mode, x, start, stop, joint, cfg, fr, net, sig, ex2, words,
                             feats, aux, values, edges, counts)
        if status != OK:
            return status, fr.io[0]
        marks[b] = fr.io[0]
    if mode == ENCODE:
        used = rc.finish(fr.coder, fr.io, words)
        return (OVERFLOW if used > words.shape[0] else OK), used
    return OK, fr.io[0]


# every module the kernel's compiled functions are built from, or take constants from (numba freezes a global
# into the compiled code: its cache must see a change in any of them)
MODULES = (sys.modules[__name__], calibration, cascade, covariance, intmath, legacy, network, rc, recent,
           residual, settings, stagemix, valueset)
# before any of them is loaded from the cache: numba would not see a change in the modules it calls
jitcache.refresh(*MODULES)
