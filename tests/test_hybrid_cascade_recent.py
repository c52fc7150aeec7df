"""Normalized LMS steps over an energy blended with the input's recent power (``nlms_recent``), and first
stages up to 1,536 taps: exact round trips, the recurrence, and the 64-bit bounds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("numba")

from tests.hybrid_models import SMALL, random_model
from tests.test_hybrid import short_music_at
from trilobyte.hybrid import cascade, payload
from trilobyte.hybrid.settings import MAX_ORDER, HybridSettings, SettingsError

RECENT = replace(SMALL, fine_sum=True, stage_mix=True, lpc_fraction=8, fine_inputs=True, nlms_recent=3,
                 wide_from=16000, wide_orders=(MAX_ORDER, 64, 16))


@pytest.mark.parametrize("bits,channels,rate", [(16, 1, 44100), (16, 2, 44100), (24, 2, 48000), (8, 1, 8000)])
def test_nlms_recent_round_trip(bits: int, channels: int, rate: int) -> None:
    model = random_model(5, RECENT)
    x = short_music_at(6000, bits, channels)
    data = payload.encode_payload(model, x, bits, rate)
    assert np.array_equal(payload.decode_payload(model, data, len(x), channels, bits, rate), x)
    plain = replace(model, settings=replace(model.settings, nlms_recent=0))
    assert payload.encode_payload(plain, x, bits, rate) != data  # the blend changes what is coded


def test_nlms_recent_is_a_setting_older_models_lack() -> None:
    assert HybridSettings(nlms_recent=3).kernel_config(16, 1, 44100).nlms_recent == 3
    assert HybridSettings(nlms_recent=3, nlms=False).kernel_config(16, 1, 44100).nlms_recent == 0
    assert HybridSettings.from_dict({}).nlms_recent == 0  # older models decode as they were made
    with pytest.raises(SettingsError, match="nlms_recent"):
        HybridSettings(nlms_recent=13)
    with pytest.raises(SettingsError, match="stage orders"):
        HybridSettings(wide_orders=(MAX_ORDER + 1, 64, 16))


def test_recent_power_and_the_blended_energy_follow_their_integer_rules() -> None:
    cfg = HybridSettings(nlms_recent=3).kernel_config(16, 1, 44100)
    cs = cascade.new_cascade(1, 64)
    t, order = cascade.PAD, cfg.order1
    expected = 0
    for n, e in enumerate([1000, -1000, 0, 0, 7, 3, 0, 0, 0, 0]):
        cascade.window_step(cfg, cs, 1, 0, t + n, order, e)
        expected += (e * e - expected) >> 3  # floors toward minus infinity, never below zero
        assert cs.sums[0, cascade.POWER + 1] == expected >= 0
    energy = cs.sums[0, cascade.ENERGY + 1]
    assert energy == 2 * 1000 ** 2 + 49 + 9
    blended = energy - (energy >> 2) + ((order * expected) >> 2)
    assert cascade.stage_energy(cfg, cs, 0, 1, order) == blended
    off = HybridSettings().kernel_config(16, 1, 44100)
    assert cascade.stage_energy(off, cs, 0, 1, order) == energy


def test_the_longest_stage_keeps_its_step_denominator_below_2_to_the_63() -> None:
    """Stage 0's denominator at the clamp: its window's energy, the blend's recent power (each at most
    ``MAX_ORDER`` squared clamps), the stereo taps' energy and the error's square."""
    top = cascade.U_CLIP ** 2
    window = MAX_ORDER * top
    blend = window - (window >> 2) + ((MAX_ORDER * top) >> 2)
    assert blend + cascade.STEREO_MAX * top + top < 2 ** 63
    # and a weight times an input, summed over the stage, stays within 64 bits too
    assert MAX_ORDER * cascade.W_CLIP * cascade.U_CLIP < 2 ** 63
