"""The hybrid coder's covariance-method LPC stage: the integer solution against floating-point least squares."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("numba")

from tests.conftest import synth
from tests.hybrid_models import SMALL, random_model
from tests.test_hybrid import bass_drum, cascade_residual, short_music, train_music
from trilobyte.hybrid import covariance as cov
from trilobyte.hybrid import engine
from trilobyte.hybrid.settings import HybridSettings, SettingsError

ORDER = 16


def run_sums(x: np.ndarray, upto: int, decay: int, frac: int = 0) -> tuple[np.ndarray, int]:
    """The ring of lag sums (``frac`` fractional bits) after ``x[:upto]`` (history before ``x`` zero), and the
    time index of ``upto``."""
    pad = 64
    xs = np.concatenate([np.zeros(pad, np.int64), x.astype(np.int64)])
    ring = np.zeros((ORDER + 1, ORDER + 1), np.int64)
    for t in range(pad, pad + upto):
        cov.update(ring, xs, t, ORDER, decay, frac)
    return ring, pad + upto


def integer_solution(ring: np.ndarray, t: int, ridge: int, decay: int) -> np.ndarray:
    coef = np.zeros(ORDER, np.int64)
    cov.solve(ring, t, ORDER, ridge, decay, coef, np.zeros((ORDER, ORDER), np.int64), np.zeros(ORDER, np.int64))
    return coef / 2.0**cov.COEF_BITS


def prediction_error(x: np.ndarray, start: int, coef: np.ndarray, count: int = 1000) -> float:
    window = np.stack([x[start - 1 - i : start + count - 1 - i] for i in range(ORDER)], axis=1).astype(np.float64)
    return float(np.abs(x[start : start + count] - window @ coef).mean())


def float_solution(x: np.ndarray, upto: int, decay: int, ridge: int, frac: int = 0) -> np.ndarray:
    """Exponentially weighted least squares straight from its definition, in float64 (the lift of sums with
    ``frac`` fractional bits)."""
    lam = 1 - 2.0**-decay
    xp = np.concatenate([np.zeros(ORDER), x[:upto].astype(np.float64)])
    rows = np.stack([xp[ORDER - 1 - i : ORDER - 1 - i + upto] for i in range(ORDER)], axis=1)  # x[s-1-i]
    weights = lam ** np.arange(upto - 1, -1, -1)
    r = (rows * weights[:, None]).T @ rows
    b = (rows * weights[:, None]).T @ xp[ORDER:]
    big = r.diagonal().max()
    return np.linalg.solve(r + np.eye(ORDER) * (big / 2**ridge + 2.0 ** (decay - frac)), b)


@pytest.mark.parametrize("decay,ridge", [(12, 20), (9, 12), (16, 24)])
def test_integer_solution_matches_least_squares_from_its_definition(decay: int, ridge: int) -> None:
    x = short_music(7000)[:, 0]
    ring, t = run_sums(x, 6000, decay)
    exact = float_solution(x, 6000, decay, ridge)
    got = integer_solution(ring, t, ridge, decay)
    assert np.abs(got - exact).max() < 2e-3 * max(1.0, np.abs(exact).max())
    # and it predicts what follows as well as the float solution does
    err_int, err_float = prediction_error(x, 6000, got), prediction_error(x, 6000, exact)
    assert err_int < 1.01 * err_float
    assert err_int < 0.5 * np.abs(x[6000:7000]).mean()  # it predicts


def test_full_scale_and_silent_windows() -> None:
    rng = np.random.default_rng(0)
    n = np.arange(8000)
    loud = np.clip(np.round(2**23 * np.sin(n * 0.05) + rng.normal(0, 64, n.size)), -(2**23), 2**23 - 1)
    loud = loud.astype(np.int64) >> 4  # 24-bit audio enters the sums shifted to 20 bits
    ring, t = run_sums(loud, 7000, 12)
    got, exact = integer_solution(ring, t, 20, 12), float_solution(loud, 7000, 12, 20)
    assert prediction_error(loud, 7000, got) < 1.05 * prediction_error(loud, 7000, exact) < 10
    # a burst, then a long silence: the sums keep only the decay's rounding, the coefficients go to zero
    quiet = np.concatenate([rng.integers(-3, 4, 2000), np.zeros(200_000, np.int64)])
    ring, t = run_sums(quiet, quiet.size, 9)
    assert np.abs(integer_solution(ring, t, 20, 9)).max() < 1e-3


def test_covariance_stage_predicts_music_better_than_the_autocorrelation_stage() -> None:
    x = short_music(40000)
    alone = replace(HybridSettings(), orders=(0, 0, 0), wide_orders=(0, 0, 0), stereo_taps=0, stereo_modes=False)
    cost = {}
    for covariance in (False, True):
        settings = replace(alone, lpc_covariance=covariance, lpc_decay=12 if covariance else 16)
        residual = engine.frame_features(settings, x, 16, 44100)[1][:, 0]
        cost[covariance] = np.log2(np.abs(residual[2000:]) + 1).mean()
    assert cost[True] < cost[False] - 0.05  # bits a sample, roughly


@pytest.mark.parametrize("depth,channels,rate", [(8, 1, 8000), (16, 2, 44100), (24, 2, 96000)])
def test_models_with_the_covariance_stage_round_trip(depth: int, channels: int, rate: int) -> None:
    model = random_model(6, replace(SMALL, lpc_covariance=True, lpc_decay=10, lpc_every=4))
    x = synth(3000, channels, depth, seed=depth)
    x[1000:1100] = (1 << (depth - 1)) - 1  # a full-scale step, then silence
    x[1100:1500] = 0
    payload = engine.encode_frame(model, x, depth, rate)
    assert np.array_equal(engine.decode_frame(model, payload, len(x), channels, depth, rate), x)
    plain = random_model(6, replace(SMALL, lpc_covariance=False))
    assert payload != engine.encode_frame(plain, x, depth, rate)  # another predictor ran


def test_settings_check_the_ridge() -> None:
    with pytest.raises(SettingsError, match="lpc_ridge"):
        HybridSettings(lpc_covariance=True, lpc_ridge=2)


def test_the_scale_covers_the_right_hand_side() -> None:
    """While a loud low tone grows louder the newest lag sums (the right-hand side) can exceed every
    diagonal entry; scaled by the diagonal alone they passed 2**53 and were clamped, and the LPC stage
    predicted -2,087,046 for a sample of -31,080 until its next solve. Scaled by the newest energy too
    (lpc_cover_rhs), the right-hand side stays in range (Cauchy-Schwarz) and the stage follows the tone."""
    x = bass_drum()
    lpc_alone = HybridSettings(orders=(0, 0, 0), wide_orders=(0, 0, 0))
    old = cascade_residual(x, replace(lpc_alone, lpc_cover_rhs=False))
    new = cascade_residual(x, lpc_alone)
    assert old[1456:1472].min() > 1000  # one whole re-solve period off
    assert new[1024:4096].max() < 200
    assert new[4096:].mean() < 3
    full = cascade_residual(x, HybridSettings())
    assert full[4096:].mean() < new[4096:].mean()  # the adaptive stages now add to it


def test_few_coefficients_over_a_frames_first_samples() -> None:
    """lpc_warmup: order 32 fitted to the first dozens of samples of an attack predicts wildly; solving for
    at most samples / 8 coefficients there keeps the stage sane, and changes nothing once the frame is
    past 8 x 32 samples."""
    x = train_music("bass_hit_c.flac")  # a synthesized bass hit: full scale from its first samples
    lpc_alone = HybridSettings(orders=(0, 0, 0), wide_orders=(0, 0, 0))
    warm = cascade_residual(x, lpc_alone)
    cold = cascade_residual(x, replace(lpc_alone, lpc_warmup=0))
    assert warm[:2048].mean() < 0.2 * cold[:2048].mean()  # 129 against 1,184
    assert np.array_equal(warm[2048:], cold[2048:])  # the same solves once 8 x 32 samples have passed
    ring, t = run_sums(bass_drum()[:, 0], 200, 12)
    coef = np.zeros(ORDER, np.int64)
    cov.solve(ring, t, ORDER, 20, 12, coef, np.zeros((ORDER, ORDER), np.int64), np.zeros(ORDER, np.int64), True, 5)
    assert np.count_nonzero(coef[5:]) == 0 and np.count_nonzero(coef[:5]) == 5


def quiet_tone(n: int) -> np.ndarray:
    """A resonance a few steps loud, as a cymbal's or a note's tail is: whole-unit lag sums hold little more
    than the decay's rounding of it."""
    rng = np.random.default_rng(3)
    t = np.arange(n)
    tone = 2.5 * np.sin(t * 0.31) + 1.5 * np.sin(t * 0.83 + 1.0) + rng.normal(0, 0.3, n)
    return np.round(tone).astype(np.int64)


def test_fractional_lag_sums_predict_a_quiet_tail() -> None:
    x = quiet_tone(9000)
    decay = 11
    whole_ring, t = run_sums(x, 8000, decay)
    fine_ring, _ = run_sums(x, 8000, decay, 8)
    whole = prediction_error(x, 8000, integer_solution(whole_ring, t, 20, decay))
    fine = prediction_error(x, 8000, integer_solution(fine_ring, t, 20, decay))
    exact = prediction_error(x, 8000, float_solution(x, 8000, decay, 20, 8))
    # the whole-unit sums' rounding and lift cost the tail; with 8 fractional bits the solution is the float one's
    assert fine < 1.02 * exact
    assert fine < 0.8 * whole
    # the sums are 2**8 times the float sums to within the decay's rounding
    lam = 1 - 2.0**-decay
    energy = float(np.sum(lam ** np.arange(7999, -1, -1) * x[:8000].astype(np.float64) ** 2))
    assert abs(fine_ring[(t - 1) % (ORDER + 1), 0] / 256 - energy) < 2.0**decay / 256 + 1e-6 * energy


def test_fraction_bits_keep_the_sums_bound() -> None:
    assert cov.fraction_bits(8, 16, 11) == 8  # 16-bit audio: all eight
    assert cov.fraction_bits(8, 20, 11) == 5  # 24-bit audio enters at 20 bits: fewer
    assert cov.fraction_bits(8, 20, 16) == 0  # the widest input at the longest window: none
    # full scale at that bound: the sums stay below 2**57 and the solution still predicts
    n = np.arange(8000)
    noise = np.random.default_rng(0).normal(0, 4, n.size)
    loud = np.round(2**19 * np.sin(n * 0.05) + noise).clip(-(2**19), 2**19 - 1).astype(np.int64)
    frac = cov.fraction_bits(8, 20, 12)
    ring, t = run_sums(loud, 7000, 12, frac)
    assert frac == 4 and 2**52 < np.abs(ring).max() < 2**57  # a full-scale sine: half the bound
    got, exact = integer_solution(ring, t, 20, 12), float_solution(loud, 7000, 12, 20, frac)
    assert prediction_error(loud, 7000, got) < 1.05 * prediction_error(loud, 7000, exact) < 10
