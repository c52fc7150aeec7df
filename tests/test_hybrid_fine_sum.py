"""The cascade's prediction as the exact sum of its parts rounded once (``fine_sum``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.hybrid_models import SMALL, random_model
from trilobyte.hybrid import engine
from trilobyte.hybrid.settings import FINE_SUM_ABOVE, LEGACY, HybridSettings

COARSE = replace(SMALL, fine_sum=False)


def quiet_chord(samples: int = 40000) -> np.ndarray:
    """Three partials decaying from about 2,000 to about 2 steps over a noise floor of about a step: a
    quiet tonal tail, 16-bit 44.1 kHz. (Without the noise the rounding errors are a deterministic function
    of the past, which the last stage learns to predict.)"""
    t = np.arange(samples)
    env = 2000.0 * np.exp(-t / (samples / 7.0))
    tone = sum(np.sin(2 * np.pi * f * t / 44100 + p) for f, p in ((196.0, 0.1), (247.0, 1.3), (294.0, 2.2)))
    noise = np.random.default_rng(1).normal(0.0, 1.0, samples)
    return np.round(env * tone / 3 + noise).astype(np.int64)[:, None]


def residual(settings: HybridSettings, x: np.ndarray, depth: int = 16) -> np.ndarray:
    _, aux = engine.frame_features(settings, x, depth, 44100)
    return aux[:, 0]


def test_one_rounding_predicts_a_quiet_tonal_tail_better() -> None:
    """Each part rounded to a whole sample passes its rounding error on to the next stage's input, where
    over noise it cannot be predicted: four of them (a third of a step squared) reach the residual
    against one. Where the residual is about a step that is a fair share of it."""
    x = quiet_chord()
    tail = slice(len(x) // 2, None)  # about 2 to 60 steps: the stages have converged
    fine, coarse = np.abs(residual(SMALL, x)[tail]), np.abs(residual(COARSE, x)[tail])
    assert fine.mean() < 0.97 * coarse.mean()  # 0.917 against 0.972
    model, old = random_model(7), random_model(7, COARSE)
    sizes = []
    for m in (model, old):
        payload = engine.encode_frame(m, x, 16, 44100)
        assert np.array_equal(engine.decode_frame(m, payload, len(x), 1, 16, 44100), x)
        sizes.append(len(payload))
    assert sizes[0] < sizes[1]


@pytest.mark.parametrize("channels", [1, 2])
def test_fine_sum_applies_above_8_bits_only(channels: int) -> None:
    """At 8 bits the kernel sums the rounded parts as before (both 8-bit valid splits lost with one rounding)."""
    x = quiet_chord(6000) >> 4
    x = np.concatenate([x, x[::-1] // 2], axis=1) if channels == 2 else x
    assert FINE_SUM_ABOVE == 8
    assert not SMALL.kernel_config(8, channels, 44100).fine_sum
    assert SMALL.kernel_config(16, channels, 44100).fine_sum
    assert np.array_equal(residual(SMALL, x, 8), residual(COARSE, x, 8))
    assert not np.array_equal(residual(SMALL, x << 8, 16), residual(COARSE, x << 8, 16))


def test_models_saved_before_fine_sum_keep_their_kernel_and_id() -> None:
    assert LEGACY["fine_sum"] is False and HybridSettings().fine_sum is True
    old = {k: v for k, v in COARSE.to_dict().items() if k != "fine_sum"}
    loaded = HybridSettings.from_dict(old)
    assert loaded == COARSE and "fine_sum" not in loaded.identity()
