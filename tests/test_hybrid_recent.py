"""Recent values (frame layout 5): the window's counts are exact, the mix leaves the coder as it was at
weight 0, and audio whose quiet stretches take few values codes smaller, exactly."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from trilobyte.hybrid import payload, recent
from trilobyte.hybrid.defaults import DEFAULT_MODEL
from trilobyte.hybrid.model import get_model


def grid_and_noise(n: int, seed: int = 0) -> np.ndarray:
    """Quiet stretches on a grid of 375 (give or take one) between loud noisy ones: few values at a time,
    thousands over the whole."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    quiet = 375 * np.round(2 * np.sin(2 * np.pi * t / 53.0) + rng.normal(0, 0.7, n)) + rng.integers(-1, 2, n)
    loud = np.round(6000 * np.sin(2 * np.pi * t / 37.0) + rng.normal(0, 900, n))
    return np.where((t // 3000) % 3 == 2, loud, quiet).astype(np.int64)


def test_the_window_counts_the_last_values_exactly() -> None:
    rng = np.random.default_rng(1)
    depth = 8
    row = recent.new_state(1, depth, True)[0]
    values = rng.integers(-(1 << depth), 1 << depth, 3 * recent.WINDOW + 17)
    for i, v in enumerate(values):
        recent.observe(row, depth, int(v))
        if i % 311 == 0 or i == len(values) - 1:
            window = values[max(0, i + 1 - recent.WINDOW): i + 1]
            assert row[recent.COUNT] == len(window)
            for edge in (-(1 << depth) - 5, -(1 << depth), -3, 0, 1, 77, (1 << depth) - 1, 1 << depth, 9999):
                assert recent.below(row, depth, edge) == int((window < edge).sum())
    assert recent.new_state(2, 24, False).shape == (2, 0)


def test_the_mix_and_its_weight() -> None:
    row = recent.new_state(1, 8, True)[0]
    for v in (3, 3, 3, 5):
        recent.observe(row, 8, v)
    g = 1 << 33
    assert recent.mix(g, 3, row) == g  # weight 0: the mixture's CDF as it was
    row[recent.WEIGHT] = 1 << 11  # half: halfway between G and the window's share below the edge (3 of 4)
    assert recent.mix(g, 3, row) == (g + (3 << 34) // 4) >> 1
    recent.adapt(row, 1 << 30, 3)  # the window gave the bin 3/4, the mixture 2**-4: up
    assert row[recent.WEIGHT] == (1 << 11) + recent.STEP
    recent.adapt(row, 1 << 33, 0)
    assert row[recent.WEIGHT] == 1 << 11
    row[recent.WEIGHT] = recent.MAX_WEIGHT
    recent.adapt(row, 0, 4)
    assert row[recent.WEIGHT] == recent.MAX_WEIGHT
    row[recent.WEIGHT] = 0
    recent.adapt(row, 1 << 34, 0)
    assert row[recent.WEIGHT] == 0


def test_few_values_at_a_time_code_smaller(monkeypatch: pytest.MonkeyPatch) -> None:
    model = get_model(DEFAULT_MODEL)
    x = grid_and_noise(30000)[:, None]
    assert len(np.unique(x)) > 2000
    data = payload.encode_payload(model, x, 16, 11025)
    assert np.array_equal(payload.decode_payload(model, data, len(x), 1, 16, 11025), x)
    monkeypatch.setattr(payload, "LAYOUT", 4)
    before = payload.encode_payload(model, x, 16, 11025)
    assert np.array_equal(payload.decode_payload(model, before, len(x), 1, 16, 11025, layout=4), x)
    assert len(data) < 0.9 * len(before)


def test_above_16_bits_layout_5_codes_as_layout_4(monkeypatch: pytest.MonkeyPatch) -> None:
    model = get_model(DEFAULT_MODEL)
    x = grid_and_noise(6000, 2)[:, None] << 4  # no wasted bits below: the low bits vary
    x += np.random.default_rng(3).integers(0, 16, x.shape)
    data = payload.encode_payload(model, x, 24, 48000)
    monkeypatch.setattr(payload, "LAYOUT", 4)
    assert payload.encode_payload(model, x, 24, 48000) == data
    assert np.array_equal(payload.decode_payload(model, data, len(x), 1, 24, 48000, layout=5), x)
