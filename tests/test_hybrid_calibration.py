"""The coder's calibration (frame layout 3): an adaptive, exact, monotone map of the mixture's CDF."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from trilobyte.hybrid import calibration, engine, payload
from trilobyte.hybrid.calibration import BIN_BITS, BINS, LIMIT, START, STEP, TOP
from trilobyte.hybrid.model import HybridModel, fixed_weights, quantize
from trilobyte.hybrid.settings import HybridSettings

FAST = HybridSettings(lpc_order=8, orders=(16, 8, 4), wide_orders=(16, 8, 4), history=4, hidden=(8, 8))


def test_a_fresh_map_is_the_identity() -> None:
    row = calibration.new_maps(2)[1]
    for g in (0, 1, 12345, (1 << BIN_BITS) - 1, 1 << BIN_BITS, 3 << 32, TOP - 1, TOP, TOP + 5):
        assert calibration.transform(g, row) == min(g, TOP)


def test_observing_spreads_a_step_and_keeps_the_map_monotone() -> None:
    row = calibration.new_maps(1)[0]
    calibration.observe(row, 5 << BIN_BITS, (5 << BIN_BITS) + 100)  # inside bin 5
    assert row[5] == START + STEP and row[2 * BINS] == BINS * START + STEP
    calibration.observe(row, (7 << BIN_BITS) + (3 << (BIN_BITS - 2)), (9 << BIN_BITS) - 1)  # 1/4 of bin 7, bin 8
    assert (row[7], row[8]) == (START + STEP // 5, START + 4 * STEP // 5)  # floors: 204 and 819 of 1,024
    assert np.array_equal(row[BINS: 2 * BINS], np.concatenate([[0], np.cumsum(row[:BINS])[:-1]]))
    assert row[2 * BINS] == row[:BINS].sum()
    rng = np.random.default_rng(0)
    for _ in range(3 * LIMIT // STEP):  # samples bunched near the middle: past the halving, several times
        lo = int(rng.normal(0.5, 0.05) * TOP)
        calibration.observe(row, max(lo, 0), max(lo, 0) + int(rng.integers(0, 1 << 30)))
    assert row[:BINS].min() >= 1 and row[2 * BINS] == row[:BINS].sum() <= LIMIT + BINS * STEP
    assert np.array_equal(row[BINS: 2 * BINS], np.concatenate([[0], np.cumsum(row[:BINS])[:-1]]))
    grid = [calibration.transform(int(g), row) for g in np.linspace(0, TOP, 4097).astype(np.int64)]
    assert grid[0] == 0 and grid[-1] == TOP and bool(np.all(np.diff(grid) >= 0))
    # the middle was seen most: the map stretches it
    assert calibration.transform(TOP // 2 + (1 << 30), row) - calibration.transform(TOP // 2, row) > 1 << 31


def test_calibration_learns_what_a_fixed_mixture_gets_wrong() -> None:
    model = HybridModel(FAST, quantize(fixed_weights(FAST)), {"datasets": [], "valid": []})
    rng = np.random.default_rng(1)
    # uniform noise: the fixed logistic is the wrong shape for it, the same way for every sample
    x = (rng.uniform(-2000, 2000, (30000, 1))).round().astype(np.int64)
    plain, _ = engine.kernel_words(model, x, 16, 8000)
    calibrated, _ = engine.kernel_words(model, x, 16, 8000, calibrate=True)
    assert len(calibrated) < 0.995 * len(plain)  # 46,080 bytes against 46,400
    data = payload.encode_payload(model, x, 16, 8000)
    assert np.array_equal(payload.decode_payload(model, data, len(x), 1, 16, 8000), x)
    # a layout-2 decoder (no calibration) does not read a layout-3 frame's words as they were written
    with pytest.raises((engine.FrameError, AssertionError)):
        assert np.array_equal(payload.decode_payload(model, data, len(x), 1, 16, 8000, layout=2), x)
