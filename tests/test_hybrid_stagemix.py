"""The adaptive stages' parts weighted by adaptive weights (``stage_mix``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.hybrid_models import SMALL, random_model
from trilobyte.hybrid import engine, stagemix
from trilobyte.hybrid.settings import LEGACY, HybridSettings

UNMIXED = replace(SMALL, stage_mix=False)


def test_a_part_that_is_only_noise_loses_its_weight_and_a_true_one_keeps_it() -> None:
    """Weights follow the error's gradient: a part uncorrelated with the target falls from one towards
    zero, a part that is the target stays at one."""
    rng = np.random.default_rng(3)
    row = stagemix.new_state(1)[0]
    for _ in range(20000):
        truth = int(rng.normal(0, 300))
        noise = int(rng.normal(0, 100))
        total = stagemix.mixed(row, 0, truth << 12, noise << 12, 0)
        assert total == (row[stagemix.W] * (truth << 12) + row[stagemix.W + 1] * (noise << 12)) >> 14
        stagemix.adapt(row, truth)
    assert abs(row[stagemix.W] - stagemix.ONE) < stagemix.ONE // 20
    assert abs(row[stagemix.W + 1]) < stagemix.ONE // 5
    assert row[stagemix.W + 2] == stagemix.ONE  # a part that is always zero has no gradient


def test_extreme_parts_keep_every_sum_within_64_bits() -> None:
    row = stagemix.new_state(1)[0]
    top = 1 << 62
    for sign in (1, -1, 1, 1, -1):
        stagemix.mixed(row, 0, sign * top, -sign * top, sign * top)
        stagemix.adapt(row, -sign * (1 << 26))
        assert np.all(np.abs(row[stagemix.W:stagemix.W + 3]) <= stagemix.W_MAX)
        assert np.all(np.abs(row[stagemix.F:stagemix.F + 3]) <= stagemix.F_MAX)


def noisy_tone(samples: int = 30000) -> np.ndarray:
    """A weak tone under noise, 16-bit: the long stage's part is mostly its misadjustment."""
    t = np.arange(samples)
    rng = np.random.default_rng(5)
    return np.round(400 * np.sin(2 * np.pi * 523.0 * t / 44100) + rng.normal(0, 300, samples)).astype(np.int64)[:, None]


def test_the_mix_predicts_noise_better_and_round_trips() -> None:
    x = noisy_tone()
    tail = slice(len(x) // 2, None)
    mixed = np.abs(engine.frame_features(SMALL, x, 16, 44100)[1][tail, 0]).mean()
    plain = np.abs(engine.frame_features(UNMIXED, x, 16, 44100)[1][tail, 0]).mean()
    assert mixed < 0.995 * plain
    model = random_model(11)
    payload = engine.encode_frame(model, x, 16, 44100)
    assert np.array_equal(engine.decode_frame(model, payload, len(x), 1, 16, 44100), x)
    unmixed = replace(model, settings=UNMIXED)
    try:
        wrong = engine.decode_frame(unmixed, payload, len(x), 1, 16, 44100)
    except engine.FrameError:
        return
    assert not np.array_equal(wrong, x)


@pytest.mark.parametrize("channels", [1, 2])
def test_the_mix_needs_one_rounding_above_8_bits(channels: int) -> None:
    assert SMALL.kernel_config(16, channels, 44100).stage_mix
    assert not SMALL.kernel_config(8, channels, 44100).stage_mix
    assert not replace(SMALL, fine_sum=False).kernel_config(16, channels, 44100).stage_mix


def test_models_saved_before_the_mix_keep_their_kernel_and_id() -> None:
    assert LEGACY["stage_mix"] is False and HybridSettings().stage_mix is True
    old = {k: v for k, v in UNMIXED.to_dict().items() if k != "stage_mix"}
    loaded = HybridSettings.from_dict(old)
    assert loaded == UNMIXED and "stage_mix" not in loaded.identity()
