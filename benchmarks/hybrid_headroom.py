"""What a better predictor, residual scale or residual shape could still buy the hybrid coder: oracles.

    python benchmarks/hybrid_headroom.py [--dataset demo-music] [--split valid] [--orders 32,128]

Per clip, the hybrid cascade's own final residual (the integer kernel at the default settings, frame by
frame, in the frame's stereo mode) is costed beside residuals and scales that peek at what no coder can
see. Every cost is ideal bits (the sum of -log2 P over every integer residual) under one logistic of
width ``c * scale`` centred on the prediction, ``c`` the clip's best of a grid, ``scale`` the running mean
of past ``|e|`` (time constant 16 samples, as the kernel's):

- cascade: the cascade's residual, causal scale (close to the coder's "cascade alone" ablation);
- block-oracle LPC P: a least-squares predictor of order P fitted to each 4096-sample block *of the
  block itself* (with its true past; coefficients free, never transmitted) instead of the cascade;
- two-sided scale: the cascade's residual, its level taken from the 16 residuals before *and after*
  each sample (not the sample itself) instead of the causal scale;
- clip histograms: the cascade's residual over its causal scale coded by 2048-bucket histograms (+-64 scales) fitted
  to the clip itself (one for each octave of the scale) instead of the logistic;
- long-term oracle: the cascade's residual less ``g e[n-L]``, the one lag ``L`` (from 32 samples to half the
  frame) and gain ``g`` that remove the most of its energy over the frame, found with hindsight (and
  used only where it costs less): what a pitch or loop predictor (repeated notes, beats, copied samples)
  could add beyond the cascade's 32-256 taps.

Each oracle bounds what its part could gain; where none gains much, the rate is at the corpus's limit for
this model family. The test split is refused: study on train or valid.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.signal import lfilter
from scipy.special import expit

BLOCK = 4096
WIDTHS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
EDGES = np.linspace(-64.0, 64.0, 2049)
FLOOR = 2.0**-40  # a residual no model here expects costs 40 bits, not infinity


def causal_scale(e: np.ndarray) -> np.ndarray:
    """Running mean of the past |e| (s_t = 15/16 s_{t-1} + |e_{t-1}| / 16), at least 1."""
    return np.maximum(lfilter([0.0, 1 / 16], [1.0, -15 / 16], np.abs(e)), 1.0)


def two_sided_scale(e: np.ndarray, half: int = 16) -> np.ndarray:
    """Mean |e| over the ``half`` samples on each side of each sample, the sample itself left out."""
    kernel = np.ones(2 * half + 1)
    kernel[half] = 0.0
    return np.maximum(np.convolve(np.abs(e), kernel, mode="same") / (2 * half), 1.0)


def logistic_bits(e: np.ndarray, scale: np.ndarray) -> float:
    """Ideal bits of integer residuals under a logistic of width c * scale, the best c of ``WIDTHS``."""
    best = np.inf
    for c in WIDTHS:
        b = c * scale
        p = expit((e + 0.5) / b) - expit((e - 0.5) / b)
        best = min(best, float(-np.log2(np.maximum(p, FLOOR)).sum()))
    return best


def histogram_bits(e: np.ndarray, scale: np.ndarray) -> float:
    """Ideal bits under histograms of e / scale fitted to these residuals (interpolated CDF), one for each
    octave of the scale (at small scales the integers make e / scale lumpy, so octaves are kept apart)."""
    octave = np.minimum(np.log2(scale).astype(int), 12)
    total = 0.0
    for band in np.unique(octave):
        sel = octave == band
        ee, ss = e[sel], scale[sel]
        counts = np.histogram(np.clip(ee / ss, -63.99, 63.99), bins=EDGES)[0] + 0.01
        cdf = np.concatenate([[0.0], np.cumsum(counts)]) / counts.sum()
        p = np.interp((ee + 0.5) / ss, EDGES, cdf) - np.interp((ee - 0.5) / ss, EDGES, cdf)
        total += float(-np.log2(np.maximum(p, FLOOR)).sum())
    return total


def block_oracle_residual(s: np.ndarray, order: int) -> np.ndarray:
    """Residual of an order-``order`` least-squares predictor fitted to each block on the block itself."""
    e = s.copy()
    for start in range(order, len(s), BLOCK):
        end = min(len(s), start + BLOCK)
        past = np.stack([s[start - 1 - k : end - 1 - k] for k in range(order)], axis=1)
        coef = np.linalg.lstsq(past, s[start:end], rcond=None)[0]
        e[start:end] = s[start:end] - np.round(past @ coef)
    return e


def long_term_oracle_residual(e: np.ndarray, shortest: int = 32) -> np.ndarray:
    """``e`` less its best one-tap prediction from ``L`` samples back, lag and gain chosen on ``e`` itself."""
    n = len(e)
    if n < 2 * shortest + 2:
        return e
    spectrum = np.fft.rfft(e, 2 * n)
    autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum), 2 * n)[: n // 2 + 1]
    if autocorrelation[0] <= 0:
        return e
    lag = shortest + int(np.argmax(np.abs(autocorrelation[shortest:])))
    past = np.concatenate([np.zeros(lag), e[:-lag]])
    gain = float(past @ e) / max(float(past @ past), 1.0)
    return e - np.round(gain * past)


def coded_channels(x: np.ndarray, mode: int) -> np.ndarray:
    """The channels the kernel codes in stereo mode ``mode`` (left/right, left/side, mid/side)."""
    if x.shape[1] != 2 or mode == 0:
        return x
    left, right = x[:, 0], x[:, 1]
    return np.stack([left, right - left] if mode == 1 else [(left + right) >> 1, left - right], axis=1)


def clip_costs(x: np.ndarray, bit_depth: int, sample_rate: int, orders: list[int]) -> dict[str, float]:
    from trilobyte.hybrid import engine
    from trilobyte.hybrid.settings import HybridSettings

    settings = HybridSettings()
    costs: dict[str, float] = {}

    def add(name: str, bits: float) -> None:
        costs[name] = costs.get(name, 0.0) + bits

    for start, end in engine.frames(len(x), settings.frame_samples):
        frame = x[start:end]
        _, aux = engine.frame_features(settings, frame, bit_depth, sample_rate)
        residual = aux[:, 0].reshape(len(frame), frame.shape[1]).astype(np.float64)
        signal = coded_channels(frame, engine.stereo_mode(frame)).astype(np.float64)
        for c in range(frame.shape[1]):
            e = residual[:, c]
            scale = causal_scale(e)
            cascade_bits = logistic_bits(e, scale)
            add("cascade", cascade_bits)
            for order in orders:
                oracle = block_oracle_residual(signal[:, c], order)
                add(f"block-oracle LPC {order}", logistic_bits(oracle, causal_scale(oracle)))
            add("two-sided scale", logistic_bits(e, two_sided_scale(e)))
            add("clip histograms", histogram_bits(e, scale))
            long_term = long_term_oracle_residual(e)
            add("long-term oracle", min(cascade_bits, logistic_bits(long_term, causal_scale(long_term))))
    return costs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo-music")
    parser.add_argument("--split", default="valid", choices=("train", "valid"))
    parser.add_argument("--orders", default="32,128", help="block-oracle LPC orders (comma-separated)")
    args = parser.parse_args(argv)
    from baselines.flac.codec import FlacSettings, encode
    from trilobyte.core.datasets import get_dataset

    orders = [int(o) for o in args.orders.split(",")]
    dataset = get_dataset(args.dataset, split=args.split)
    totals: dict[str, float] = {}
    raw = 0
    print(f"{args.dataset} [{args.split}]: rate (raw bits / ideal bits) per clip")
    for clip in dataset.clips():
        costs = {"flac -8": 8.0 * len(encode(clip.samples, clip.sample_rate, clip.bit_depth, FlacSettings(8)))}
        costs.update(clip_costs(clip.samples, clip.bit_depth, clip.sample_rate, orders))
        raw += clip.raw_bits
        for name, bits in costs.items():
            totals[name] = totals.get(name, 0.0) + bits
        print(f"  {clip.id[-32:]:32s} " + "  ".join(f"{k} {clip.raw_bits / v:.3f}" for k, v in costs.items()))
    print("whole split:")
    for name, bits in totals.items():
        gain = 100 * (totals["cascade"] / bits - 1)
        print(f"  {name:24s} rate {raw / bits:.4f}  ({gain:+.2f}% against the cascade)")


if __name__ == "__main__":
    main()
