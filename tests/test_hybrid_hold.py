"""Held frames (frame layout 4): a sound repeated sample by sample to a multiple of its rate is coded at
its own rate, its held values only, and decodes exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from trilobyte.hybrid import codec, engine, payload
from trilobyte.hybrid.model import HybridModel, fixed_weights, quantize
from trilobyte.hybrid.settings import HybridSettings

FAST = HybridSettings(lpc_order=8, orders=(16, 8, 4), wide_orders=(16, 8, 4), history=4, hidden=(8, 8))


@pytest.fixture(scope="module")
def fixed() -> HybridModel:
    return HybridModel(FAST, quantize(fixed_weights(FAST)), {"datasets": [], "valid": []})


def sound(n: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A decaying tone with noise: every sample differs from the one before."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = 3000 * np.sin(2 * np.pi * t / (23.7 + np.arange(channels))) * np.exp(-t / n) + rng.normal(0, 40, (n, channels))
    x = np.round(x).astype(np.int64)
    x[1:][x[1:] == x[:-1]] += 1
    return x


def held(x: np.ndarray, hold: int, phase: int, n: int) -> np.ndarray:
    """``x`` with every value repeated ``hold`` times, cut to ``n`` samples from ``phase``."""
    return np.repeat(x, hold, axis=0)[phase: phase + n]


def test_hold_of_finds_the_longest_hold_and_its_phase() -> None:
    x = sound(500, 2)
    assert payload.hold_of(x) == (1, 0)
    assert payload.hold_of(held(x, 2, 0, 900)) == (2, 0)
    assert payload.hold_of(held(x, 2, 1, 900)) == (2, 1)  # the first sample ends a held value
    assert payload.hold_of(held(x, 4, 3, 900)) == (4, 1)  # changes at 1, 5, 9, ...: held by 4, not only 2
    assert payload.hold_of(held(x, 3, 2, 900)) == (3, 1)
    assert payload.hold_of(held(x, 17, 0, 900)) == (1, 0)  # longer than MAX_HOLD: 17 is no multiple of 2..16
    assert payload.hold_of(np.full((300, 2), 5)) == (1, 0)  # constant: nothing to gain
    broken = held(x, 2, 0, 900)
    broken[501, 1] += 1  # one channel breaks the hold
    assert payload.hold_of(broken) == (1, 0)
    assert payload.held_starts(10, 4, 1).tolist() == [0, 1, 5, 9]
    assert payload.held_starts(9, 4, 0).tolist() == [0, 4, 8]


@pytest.mark.parametrize(("hold", "phase", "channels"), [(2, 0, 1), (2, 1, 2), (3, 2, 1), (16, 7, 2)])
def test_a_held_frame_codes_its_held_values_at_their_rate(fixed: HybridModel, hold: int, phase: int,
                                                           channels: int) -> None:
    x = held(sound(20000 // hold + 2, channels, hold), hold, phase, 20000)
    data = payload.encode_payload(fixed, x, 16, 44100)
    h, p = payload.hold_of(x)
    assert (h, p) == (hold, (hold - phase) % hold)
    assert data[0] >> payload.VARIANT_BIT & 1 and data[1:3] == bytes([0b1_0000, h - 1 | p << 4])
    assert np.array_equal(payload.decode_payload(fixed, data, len(x), channels, 16, 44100), x)
    # the same bytes as the held values coded on their own at the lower rate, but for the two head bytes
    values = x[payload.held_starts(len(x), h, p)]
    alone = payload.encode_payload(fixed, values, 16, 44100 // h)
    assert alone[0] & ~(1 << payload.VARIANT_BIT) == data[0] & ~(1 << payload.VARIANT_BIT)
    assert data[3:] == alone[1:]


def test_held_frames_with_a_variant_flac_blocks_and_wasted_bits(fixed: HybridModel) -> None:
    rng = np.random.default_rng(5)
    x = held(rng.integers(-4096, 4096, (9000, 2)) << 3, 2, 1, 17000)  # noise: FLAC's blocks
    data = payload.encode_payload(fixed, x, 16, 22050, variant=3)
    assert data[0] & 0b1_1111 == 3 and data[1:3] == bytes([0b1_0011, 1 | 1 << 4])
    assert np.array_equal(payload.decode_payload(fixed, data, len(x), 2, 16, 22050), x)
    words_at = 3 + 4 + 4 * int.from_bytes(data[3:7], "little")
    assert data[words_at] != 0  # some of the (9,001 held values' three) blocks are FLAC's


def test_a_bad_hold_byte_is_a_frame_error(fixed: HybridModel) -> None:
    x = held(sound(3000), 4, 0, 10000)
    data = payload.encode_payload(fixed, x, 16, 44100)
    assert data[1:3] == bytes([0b1_0000, 3])
    for bad in (bytes([3 | 4 << 4]), bytes([0 | 1 << 4])):  # phase 4 of a hold of 4; phase 1 of a "hold" of 1
        with pytest.raises(engine.FrameError, match="phase past its hold"):
            payload.decode_payload(fixed, data[:2] + bad + data[3:], len(x), 1, 16, 44100)
    with pytest.raises(engine.FrameError):
        payload.decode_payload(fixed, data[:2], len(x), 1, 16, 44100)
    with pytest.raises(engine.FrameError, match="options byte 0x10"):  # layout 3 had no hold
        payload.decode_payload(fixed, data, len(x), 1, 16, 44100, layout=3)


def test_held_files_round_trip_with_both_presets(tmp_path: Path, fixed: HybridModel) -> None:
    settings = replace(FAST, frame_samples=3001)  # frames that start at every phase of the hold
    model_dir = HybridModel(settings, quantize(fixed_weights(settings)), {"datasets": [], "valid": []}).save(
        tmp_path / "model")
    x = held(sound(5000, 2, 9), 3, 1, 14000)
    plain = codec.encode(sound(14000, 2, 9), 44100, 16, model_dir)
    for preset in codec.PRESETS:
        encoded = codec.encode(x, 44100, 16, model_dir, preset=preset)
        assert np.array_equal(codec.decode(encoded.data, model_dir)[0], x)
        assert all(f.payload[1] >> payload.HOLD_BIT & 1 for f in encoded.container.frames)
        assert encoded.container.payload_bytes < 0.5 * plain.container.payload_bytes
