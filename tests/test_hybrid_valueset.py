"""Channels coded among the values their frame uses (value tables, frame layouts 3 to 5): exact, and
smaller on sparse audio, with no table where it would not pay."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from trilobyte.hybrid import codec, engine, payload, valueset
from trilobyte.hybrid.defaults import DEFAULT_MODEL
from trilobyte.hybrid.model import HybridModel, fixed_weights, get_model, quantize
from trilobyte.hybrid.settings import HybridSettings

FAST = HybridSettings(lpc_order=8, orders=(16, 8, 4), wide_orders=(16, 8, 4), history=4, hidden=(8, 8))


@pytest.fixture(scope="module")
def fixed() -> HybridModel:
    return HybridModel(FAST, quantize(fixed_weights(FAST)), {"datasets": [], "valid": []})


def rescaled(n: int, gain: float, seed: int = 0) -> np.ndarray:
    """A decaying tone with noise at 8 bits, rescaled by ``gain`` (no power of two): few values in use."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    low = np.round(90 * np.sin(2 * np.pi * t / 37.3) * np.exp(-t / (n / 2)) + rng.normal(0, 3, n))
    return np.round(low * gain).astype(np.int64)


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """:func:`rescaled` by 100.7, each value moved by -1, 0 or +1: clusters of three values a hundred apart."""
    return rescaled(n, 100.7, seed) + np.random.default_rng(seed + 100).integers(-1, 2, n)


def without_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payload, "MIN_SPACING_BITS", float("inf"))


def test_nearest_and_rank_of() -> None:
    vals = np.array([-7, -2, 3, 4, 10], dtype=np.int64)
    assert [valueset.nearest(vals, 5, p) for p in (-100, -5, -4, 0, 1, 3, 7, 8, 100)] == [0, 0, 1, 1, 2, 2, 3, 4, 4]
    assert [valueset.rank_of(vals, 5, v) for v in (-7, 4, 10, 5, -100)] == [0, 3, 4, -1, -1]
    assert valueset.nearest(vals, 1, 50) == 0 and valueset.rank_of(vals, 4, 10) == -1


def test_rank_shift_follows_the_values_spacing() -> None:
    dense = np.arange(1000, dtype=np.int64)
    sparse = dense * 16
    a = 16 << 8  # a running scale of 256 samples
    assert valueset.rank_shift(dense, 1000, 500, a, 4) == 5  # bins of 32 samples: 1/8 of the scale
    assert valueset.rank_shift(sparse, 1000, 500, a, 4) == 1  # 16 samples a rank: 2 ranks
    assert valueset.rank_shift(sparse, 1, 0, a, 4) == 0


def test_cell_edges() -> None:
    table = np.array([0, 10, 11, 12, 100], dtype=np.int64)
    assert valueset.cell_edges(table, 1)[1:].tolist() == [10, 21, 23, 112]  # twice the midpoints
    # the mean of up to two values each side: (0+10+11+12)/2 and (10+11+12+100)/2, floored
    assert valueset.cell_edges(table, 2)[1:].tolist() == [10, 16, 66, 112]
    grid = 5 * np.arange(40, dtype=np.int64) - 77
    for means in (1, 3, 8):
        assert np.array_equal(valueset.cell_edges(grid, means)[1:], grid[1:] + grid[:-1])  # an even grid: midpoints
    values = np.unique(clustered(5000))
    edges = valueset.cell_edges(values, valueset.CELL_MEANS)[1:]
    assert np.all(np.diff(edges) > 0) and edges[0] > 2 * values[0] and edges[-1] < 2 * values[-1]
    assert valueset.cell_edges(values[:1], 8).tolist() == [0]


def test_tables_pack_and_refuse_what_is_not_one() -> None:
    table = np.array([-32768, -5, 0, 1, 2, 700, 32767], dtype=np.int64)
    packed = valueset.pack_table(table)
    assert np.array_equal(valueset.unpack_table(packed, -32768, 32767, 7), table)
    for data, low, high, limit, why in [
        (packed, -32768, 32767, 6, "at most 6"),
        (packed, -32767, 32767, 7, "increasing within"),
        (packed[:-3], -32768, 32767, 7, "cut short|does not unpack"),
        (packed + b"\0", -32768, 32767, 7, "followed by"),
        (b"\xff" * 12, -32768, 32767, 7, "does not unpack"),
        (valueset.pack_table(np.array([3, 3], dtype=np.int64)), -9, 9, 7, "increasing"),
    ]:
        with pytest.raises(valueset.ValueTableError, match=why):
            valueset.unpack_table(data, low, high, limit)


def test_a_sparse_channel_codes_among_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    model = get_model(DEFAULT_MODEL)
    x = rescaled(20000, 67.3)[:, None]
    assert payload.wasted_bits(x, 16) == 0
    data = payload.encode_payload(model, x, 16, 22050)
    assert data[0] == 0b0100_0000  # no wasted bits; channel 0 has a table
    length = int.from_bytes(data[1:5], "little")
    assert np.array_equal(valueset.unpack_table(data[5: 5 + length], -32768, 32767, len(x)), np.unique(x))
    assert np.array_equal(payload.decode_payload(model, data, len(x), 1, 16, 22050), x)
    without_tables(monkeypatch)
    plain = payload.encode_payload(model, x, 16, 22050)
    assert plain[0] == 0
    # about log2(67) bits a sample of the plain coder's are spent on values the frame never takes
    assert len(data) < 0.6 * len(plain)


def test_clusters_of_values_share_their_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layout 4's cells: a cluster's middle value no longer gets a cell one sample wide."""
    model = get_model(DEFAULT_MODEL)
    x = clustered(20000, 4)[:, None]
    data = payload.encode_payload(model, x, 16, 11025)
    assert data[0] == 0b0100_0000
    assert np.array_equal(payload.decode_payload(model, data, len(x), 1, 16, 11025), x)
    monkeypatch.setattr(payload, "LAYOUT", 3)
    midpoints = payload.encode_payload(model, x, 16, 11025)
    assert midpoints[0] == 0b0100_0000
    assert np.array_equal(payload.decode_payload(model, midpoints, len(x), 1, 16, 11025, layout=3), x)
    assert len(data) < 0.85 * len(midpoints)
    try:  # the cells are part of the format
        wrong = payload.decode_payload(model, midpoints, len(x), 1, 16, 11025, layout=4)
    except engine.FrameError:
        wrong = None
    assert wrong is None or not np.array_equal(wrong, x)


def test_stereo_tables_follow_the_coded_channels(fixed: HybridModel) -> None:
    left = rescaled(9000, 41.7, 1)
    right = rescaled(9000, 41.7, 2)
    # the second pair's side channel takes one value: a table of one
    for x, joint in [(np.stack([left, right], axis=1), 0), (np.stack([left, left + 1], axis=1), 1)]:
        assert engine.joint_mode(fixed, x) == joint
        for mode in (0, 1, 2):
            data = payload.encode_payload(fixed, x, 16, 44100, stereo=mode)
            assert np.array_equal(payload.decode_payload(fixed, data, len(x), 2, 16, 44100), x)
        coded = engine.coded_channels(x, joint)
        tables, flags, _ = payload.value_tables(coded)
        for c in range(2):
            assert tables[c] is None or np.array_equal(tables[c], np.unique(coded[:, c]))
        assert flags == sum(1 << (6 + c) for c in range(2) if tables[c] is not None) and flags


def test_a_table_with_flac_blocks_and_wasted_bits_round_trips(fixed: HybridModel) -> None:
    x = rescaled(3 * 4096 + 77, 23.1, 3) << 2
    x[4096:8192] = x[4095]  # a constant block after a loud one: FLAC's
    x = x[:, None]
    data = payload.encode_payload(fixed, x, 16, 16000)
    at = 5 + int.from_bytes(data[1:5], "little")  # past the one table
    words = int.from_bytes(data[at: at + 4], "little")
    assert (data[0], data[at + 4 + 4 * words]) == (0b0100_0010, 0b0010)  # 2 wasted bits, a table; a FLAC block
    assert np.array_equal(payload.decode_payload(fixed, data, len(x), 1, 16, 16000), x)


def test_dense_audio_carries_no_table(fixed: HybridModel) -> None:
    x = np.random.default_rng(6).normal(0, 3000, (8000, 2)).round().astype(np.int64)
    assert payload.encode_payload(fixed, x, 16, 44100)[0] == 0


def test_a_damaged_table_is_a_frame_error(fixed: HybridModel) -> None:
    x = rescaled(5000, 55.5)[:, None]
    data = bytearray(payload.encode_payload(fixed, x, 16, 8000))
    assert data[0] == 0b0100_0000
    with pytest.raises(engine.FrameError, match="cannot have"):
        payload.decode_payload(fixed, b"\x80" + bytes(data[1:]), len(x), 1, 16, 8000)
    with pytest.raises(engine.FrameError, match="cannot have"):
        payload.decode_payload(fixed, bytes(data), len(x), 1, 16, 8000, layout=2)
    data[8] ^= 0xFF
    with pytest.raises(engine.FrameError):
        payload.decode_payload(fixed, bytes(data), len(x), 1, 16, 8000)


def test_layout_2_frames_still_decode(fixed: HybridModel) -> None:
    x = rescaled(6000, 1.0)[:, None] + 7
    words, _ = engine.kernel_words(fixed, x, 16, 8000)  # layout 2's kernel: no calibration
    layout2 = b"\0" + (len(words) // 4).to_bytes(4, "little") + words + b"\0"  # head, count, words, bitmap
    assert np.array_equal(payload.decode_payload(fixed, layout2, len(x), 1, 16, 8000, layout=2), x)
    assert payload.encode_payload(fixed, x, 16, 8000)[0] == 0  # layout 6, no table: the words differ
    assert payload.encode_payload(fixed, x, 16, 8000) != layout2


def test_files_with_tables_round_trip_through_the_codec(tmp_path: Path, fixed: HybridModel) -> None:
    settings = replace(FAST, frame_samples=4000)
    model_dir = HybridModel(settings, quantize(fixed_weights(settings)), {"datasets": [], "valid": []}).save(
        tmp_path / "model")
    x = np.stack([rescaled(10000, 33.3, 7), rescaled(10000, 12.9, 8)], axis=1)
    for preset in codec.PRESETS:
        encoded = codec.encode(x, 32000, 16, model_dir, preset=preset)
        assert encoded.container.header["coding"]["layout"] == payload.LAYOUT == 6
        assert all(f.payload[0] >> 6 == 0b11 for f in codec.parse(encoded.data).frames)  # both tables
        assert np.array_equal(codec.decode(encoded.data, model_dir, workers=2)[0], x)
