"""Reading libFLAC's own frames: exact samples from residual + predictor, exact residual section sizes."""

from __future__ import annotations

import numpy as np
import pytest

from baselines import residuals, rice
from baselines.flac import codec as flac_codec
from baselines.flac import frames as flac_frames
from baselines.flac import frames_cli
from baselines.flac.codec import FlacSettings
from baselines.flac.frames import FlacFrameError, FlacFramesCoder
from trilobyte.core.datasets import get_dataset
from trilobyte.core.protocol import RateResult

N = 6000
RNG = np.random.default_rng(0)
T = np.arange(N)


def smooth(scale: float = 8000.0, period: float = 30.0) -> np.ndarray:
    return np.round(scale * np.sin(T / period)).astype(np.int32)


SIGNALS = {
    "silence": (np.zeros((N, 1), np.int32), 16, "constant"),
    "noise": (RNG.integers(-(2**15), 2**15, (N, 2)).astype(np.int32), 16, "verbatim"),
    "wasted-bits": ((smooth(3000)[:, None] * 8).astype(np.int32), 16, "fixed"),
    "left-side": (np.stack([smooth(), smooth() + RNG.integers(-3, 4, N)], 1).astype(np.int32), 16, None),
    "side-right": (np.stack([smooth() + RNG.integers(-3000, 3000, N), smooth()], 1).astype(np.int32), 16, None),
    "ramp-24bit": ((((T * 997) % (1 << 24)) - (1 << 23))[:, None].astype(np.int32), 24, None),
    "8-bit": (RNG.integers(-128, 128, (N, 1)).astype(np.int32), 8, "verbatim"),
    "one-sample": (np.array([[-7]], np.int32), 16, None),
    "six-channels": (RNG.integers(-100, 100, (N, 6)).astype(np.int32), 16, None),
}
SETTINGS = [FlacSettings(0), FlacSettings(8), FlacSettings(8, frozenset(flac_codec.SUBFRAME_TYPES)),
            FlacSettings(5, blocksize=1000)]


def check_stream(samples: np.ndarray, rate: int, depth: int, settings: FlacSettings) -> flac_frames.FlacStream:
    data, stream = flac_frames.encode_and_read(samples, rate, depth, settings)  # raises unless bit-exact
    np.testing.assert_array_equal(stream.samples(), samples)
    assert stream.info.total_samples == samples.shape[0]
    assert sum(f.size for f in stream.frames) + stream.layout.frames_offset == len(data)
    budget = stream.budget()
    assert budget["total"] == 8 * stream.layout.payload_bytes  # every bit of the payload accounted for
    for sub in stream.subframes():
        if sub.rice is None:
            assert sub.residual.size == 0
            continue
        # The same residuals, partitions and parameters through rice.plan_bits: libFLAC's exact size.
        assert flac_frames.residual_section_bits(sub) == sub.residual_bits == sub.rice.bits
        assert sub.residual.size + sub.order == sub.signal.size
        # Our exact search never needs more bits than libFLAC's choice (same orders allowed or more).
        assert flac_frames.replanned_bits(sub) <= sub.residual_bits
    return stream


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_synthetic_streams_rebuild_exactly(name):
    samples, depth, expected_kind = SIGNALS[name]
    kinds, assignments = set(), set()
    for settings in SETTINGS:
        stream = check_stream(samples, 44100, depth, settings)
        kinds |= {s.kind for s in stream.subframes()}
        assignments |= {f.channel_assignment for f in stream.frames}
    if expected_kind:
        assert expected_kind in kinds
    if name == "wasted-bits":
        assert any(s.wasted_bits == 3 for s in check_stream(samples, 44100, depth, SETTINGS[1]).subframes())
    if name in ("left-side", "side-right"):
        assert name in assignments


def test_real_clips_every_subframe_type_and_stereo_mode():
    ds = get_dataset("demo-music", split="test", limit=4)
    kinds, assignments = set(), set()
    for clip in ds.clips():
        stream = check_stream(clip.samples, clip.sample_rate, clip.bit_depth, FlacSettings(8))
        kinds |= {s.kind for s in stream.subframes()}
        assignments |= {f.channel_assignment for f in stream.frames}
        lpc = [s for s in stream.subframes() if s.kind == "lpc"]
        assert all(1 <= s.order <= 12 and 1 <= s.precision <= 15 for s in lpc)  # level 8: subset, order <= 12
    assert "lpc" in kinds and "mid-side" in assignments


def test_24bit_hires_clip():
    ds = get_dataset("demo-24bit")
    ref = next(r for r in ds.refs if r.sample_rate == 96000)
    clip = ds.load(ref)
    samples = clip.samples[: 96000 // 4]
    stream = check_stream(samples, clip.sample_rate, 24, FlacSettings(8))
    assert stream.info.bits_per_sample == 24 and stream.frames[0].sample_rate == 96000


def test_known_residuals_of_a_fixed_predictor():
    # A ramp is predicted exactly by FIXED order 2 (2 s[n-1] - s[n-2]): libFLAC's residual is all zero.
    ramp = (np.arange(4096, dtype=np.int32) * 3 - 5000)[:, None]
    stream = check_stream(ramp, 8000, 16, FlacSettings(5))
    (sub,) = stream.frames[0].subframes
    assert sub.kind == "fixed" and sub.order >= 2
    assert not sub.residual.any()
    np.testing.assert_array_equal(sub.warmup, ramp[: sub.order, 0])


def test_corrupt_streams_are_refused():
    samples = SIGNALS["left-side"][0]
    data = flac_codec.encode(samples, 44100, 16, FlacSettings(5))
    layout = flac_codec.parse_layout(data)
    flipped = bytearray(data)
    flipped[layout.frames_offset + 40] ^= 0x10  # inside the first frame's subframes
    with pytest.raises(FlacFrameError):
        flac_frames.read_stream(bytes(flipped))
    with pytest.raises(FlacFrameError, match=r"truncated|CRC|sync|residual"):
        flac_frames.read_stream(data[:-10])
    with pytest.raises(FlacFrameError, match="fLaC"):
        flac_frames.read_stream(b"RIFF" + data[4:])


def test_crc_known_values():
    # CRC-8/SMBUS and CRC-16/UMTS (the FLAC polynomials, initial 0) of "123456789".
    assert flac_frames.crc8(b"123456789") == 0xF4
    assert flac_frames.crc16(b"123456789") == 0xFEE8


def test_rice_section_sizes_match_with_escapes():
    # Noise at 16 bits in small partitions makes libFLAC escape some partitions; sizes must still agree.
    x = np.concatenate([RNG.integers(-(2**14), 2**14, 2048), smooth(50)[:2048]]).astype(np.int32)[:, None]
    stream = check_stream(x, 44100, 16, FlacSettings(8, frozenset(flac_codec.SUBFRAME_TYPES), blocksize=4096))
    plans = [s.rice for s in stream.subframes() if s.rice is not None]
    assert plans


def test_histogram_binning():
    h = residuals.histogram(np.array([0, 1, -1, 15, 16, -19, 20, 2**20, -(2**31)]))
    counts = dict(enumerate(h["counts"]))
    edges = h["edges"]
    assert edges[:17] == list(range(17)) and edges[17:21] == [20, 24, 28, 32]
    assert counts[0] == 1 and counts[1] == 2 and counts[15] == 1 and counts[16] == 2 and counts[17] == 1
    assert sum(h["counts"]) == h["count"] == 9
    assert h["max_abs"] == 2**31 and h["sum_abs"] == 0 + 1 + 1 + 15 + 16 + 19 + 20 + 2**20 + 2**31
    merged = residuals.merge([residuals.compact(h), residuals.compact(residuals.histogram(np.zeros(3, int)))])
    assert merged["count"] == 12 and merged["counts"][0] == 4 and len(merged["counts"]) == len(edges) - 1


def test_cli_writes_rates_budget_and_histogram(tmp_path):
    out = tmp_path / "results"
    assert frames_cli.main(["--dataset", "demo-speech", "--split", "test", "--limit", "3", "--out", str(out),
                             "--no-progress"]) == 0
    (path,) = out.glob("*/flac-frames/*.json")
    result = RateResult.from_dict(__import__("json").loads(path.read_text()))
    assert result.mode == "coded" and not result.failures
    hist = result.extra["residual_histogram"]
    assert hist["count"] == sum(hist["counts"]) > 0 and hist["mean_abs"] > 0
    for row in result.files:
        assert row.extra["bits"]["total"] == row.compressed_bits
        assert row.extra["residual_bits_replanned"] <= row.extra["bits"]["residual"]
    # The same payload as the FLAC sweep's at the same settings.
    ds = get_dataset("demo-speech", split="test", limit=3)
    clip = ds.load(ds.refs[0])
    layout = flac_codec.parse_layout(flac_codec.encode(clip.samples, clip.sample_rate, 16, FlacSettings(8)))
    assert result.files[0].compressed_bits == 8 * layout.payload_bytes
    assert FlacFramesCoder(FlacSettings(8)).code_file(clip).compressed_bits == 8 * layout.payload_bytes


def test_plan_bits_agrees_with_an_encoded_section():
    # The reader's plan is one rice.encode can reproduce bit for bit.
    samples = SIGNALS["left-side"][0]
    data, stream = flac_frames.encode_and_read(samples, 44100, 16, FlacSettings(8))
    sub = next(s for s in stream.subframes() if s.rice is not None)
    section = rice.encode(sub.residual, sub.order, rice_plan=sub.rice)
    start, end = sub.residual_bit, sub.end_bit
    original = int.from_bytes(data[start // 8 : (end + 7) // 8], "big")
    original = (original >> ((-end) % 8)) & ((1 << (end - start)) - 1)
    assert int.from_bytes(section, "big") >> (8 * len(section) - (end - start)) == original
