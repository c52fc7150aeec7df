"""The adaptive stages' inputs in 1/16 of a sample (``fine_inputs``): exact round trips, where it applies, and
what it buys on a quiet passage."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("numba")

from tests.hybrid_models import SMALL, random_model
from tests.test_hybrid import short_music, short_music_at
from trilobyte.hybrid import engine, payload
from trilobyte.hybrid.settings import HybridSettings

FINE = replace(SMALL, fine_sum=True, stage_mix=True, lpc_fraction=8, fine_inputs=True)


def quiet_music(n: int) -> np.ndarray:
    """Music a few steps loud: what whole-sample stage inputs round away is the size of what they predict."""
    return short_music(n) >> 9


@pytest.mark.parametrize("bits,channels", [(16, 1), (16, 2), (24, 2), (8, 1)])
def test_fine_inputs_round_trip(bits: int, channels: int) -> None:
    model = random_model(4, FINE)
    x = short_music_at(6000, bits, channels)
    data = payload.encode_payload(model, x, bits, 44100)
    assert np.array_equal(payload.decode_payload(model, data, len(x), channels, bits, 44100), x)


def test_fine_inputs_apply_with_fine_sum_at_16_bits_or_fewer() -> None:
    settings = HybridSettings(fine_inputs=True)
    assert settings.kernel_config(16, 1, 44100).fine_inputs
    assert not settings.kernel_config(24, 1, 44100).fine_inputs  # a 24-bit residual in 1/16 could reach 2**29
    assert not settings.kernel_config(8, 1, 44100).fine_inputs  # as fine_sum, off at 8 bits
    assert not replace(settings, fine_sum=False).kernel_config(16, 1, 44100).fine_inputs
    assert not HybridSettings.from_dict({}).fine_inputs  # older models decode as they were made


def test_fine_inputs_code_a_quiet_passage_smaller_and_differently() -> None:
    model = random_model(4, FINE)
    whole = replace(model, settings=replace(model.settings, fine_inputs=False))
    x = quiet_music(12000)
    fine_data = payload.encode_payload(model, x, 16, 44100)
    whole_data = payload.encode_payload(whole, x, 16, 44100)
    assert len(fine_data) < len(whole_data)
    # the decoder must know: read with whole-sample inputs the fine file comes out wrong
    try:
        wrong = payload.decode_payload(whole, fine_data, len(x), x.shape[1], 16, 44100)
    except engine.FrameError:
        return
    assert not np.array_equal(wrong, x)
