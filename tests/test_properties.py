"""Property tests: exact round trips over random lengths, depths, channel counts, rates and kinds of signal.

Three subjects: the hybrid codec (files and single frames, every stereo mode, escape codes), the
container of the GPT-2 codec's ``.trb`` files (headers, seek table, frames and checksums; any damaged,
cut or extended file is refused), and the partitioned Rice coder (sections and block streams decode
exactly, their sizes are the ones predicted, the plans are the exact optimum). The examples are drawn
by :mod:`tests.pcm_strategies`; the Hypothesis profile (tests/conftest.py) fixes them for CI.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")
pytest.importorskip("constriction")

from baselines import rice
from tests.hybrid_models import SMALL, random_model
from tests.pcm_strategies import KINDS, Signal, signals
from tests.rice_checks import brute_force_bits, check_round_trip
from trilobyte.core import container
from trilobyte.gpt2 import codec as gpt2_codec
from trilobyte.gpt2 import entropy, stepper
from trilobyte.hybrid import codec, engine
from trilobyte.hybrid.model import get_model

SCALE = settings.default.max_examples / 100  # the "thorough" profile draws ten times as many examples
NARROW = replace(SMALL, central_bins=16)  # the fewest central bins: escapes at every depth
FRAME_EDGES = (1, SMALL.frame_samples - 1, SMALL.frame_samples, SMALL.frame_samples + 1, 2 * SMALL.frame_samples)


def examples(count: int) -> settings:
    """Hypothesis settings for ``count`` examples under the CI profile (more under "thorough")."""
    return settings(max_examples=max(1, int(count * SCALE)))


# ----------------------------------------------------------------------------------------- hybrid


@pytest.fixture(scope="module")
def hybrid_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """Saved random models by ``narrow``: SMALL's 1024 central bins, or NARROW's 16."""
    base = tmp_path_factory.mktemp("hybrid-properties")
    return {False: random_model(1).save(base / "small"), True: random_model(2, NARROW).save(base / "narrow")}


@pytest.mark.parametrize("kind", KINDS)
@examples(10)
@given(data=st.data(), narrow=st.booleans())
def test_hybrid_files_round_trip(hybrid_dirs: dict[bool, Path], kind: str, data: st.DataObject, narrow: bool) -> None:
    signal = data.draw(signals(edge_lengths=FRAME_EDGES, kinds=(kind,)), label="signal")
    x = signal.pcm()
    encoded = codec.encode(x, signal.sample_rate, signal.bit_depth, hybrid_dirs[narrow])
    decoded, info = codec.decode(encoded.data, hybrid_dirs[narrow])
    assert decoded.shape == x.shape
    np.testing.assert_array_equal(decoded, x)
    assert (info.sample_rate, info.bit_depth, info.channels, info.num_samples) == (
        signal.sample_rate, signal.bit_depth, signal.channels, signal.num_samples)
    assert info.frame_count == len(encoded.container.frames) == -(-signal.num_samples // SMALL.frame_samples)


@pytest.mark.parametrize("kind", KINDS)
@examples(6)
@given(data=st.data(), stereo=st.sampled_from((0, 1, 2)), narrow=st.booleans())
def test_hybrid_frames_round_trip_in_each_stereo_mode(hybrid_dirs: dict[bool, Path], kind: str, data: st.DataObject,
                                                      stereo: int, narrow: bool) -> None:
    signal = data.draw(signals(max_samples=SMALL.frame_samples, channels=(2, 2), kinds=(kind,)), label="signal")
    x, model = signal.pcm(), get_model(hybrid_dirs[narrow])
    payload = engine.encode_frame(model, x, signal.bit_depth, signal.sample_rate, stereo=stereo)
    decoded = engine.decode_frame(model, payload, len(x), 2, signal.bit_depth, signal.sample_rate)
    np.testing.assert_array_equal(decoded, x)


@examples(30)
@given(signal=signals(max_samples=SMALL.frame_samples, kinds=("spikes",)))
def test_spikes_after_silence_reach_the_escape_codes(signal: Signal) -> None:
    """What the round trips above rely on: the spikes kind codes symbols beyond the central bins."""
    _, aux = engine.frame_features(NARROW, signal.pcm(), signal.bit_depth, signal.sample_rate)
    bins = aux[:, 0] >> aux[:, 2]  # residual >> bin shift
    assert ((bins < -NARROW.central_bins) | (bins >= NARROW.central_bins)).any()


@examples(20)
@given(signal=signals(max_samples=200), data=st.data())
def test_hybrid_refuses_a_sample_beyond_the_depth(hybrid_dirs: dict[bool, Path], signal: Signal,
                                                  data: st.DataObject) -> None:
    x = signal.pcm()
    row, channel = data.draw(st.integers(0, len(x) - 1)), data.draw(st.integers(0, signal.channels - 1))
    x[row, channel] = data.draw(st.sampled_from((signal.low - 1, signal.high + 1)))
    with pytest.raises(codec.CodecError, match="range"):
        codec.encode(x, signal.sample_rate, signal.bit_depth, hybrid_dirs[False])
    with pytest.raises(codec.CodecError, match="no samples"):
        codec.encode(x[:0], signal.sample_rate, signal.bit_depth, hybrid_dirs[False])


# -------------------------------------------------------------------------------------- container

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@st.composite
def trb_files(draw: st.DrawFn) -> tuple[container.Container, np.ndarray, Signal]:
    """A GPT-2 codec file's container: its header's fields, the PCM's frames and payloads of random words."""
    signal = draw(signals(max_samples=3000, edge_lengths=(1, 2, 255, 256, 257), channels=(1, 8)))
    x = signal.pcm()
    frame_samples = draw(st.integers(1, signal.num_samples + 10))
    bounds = gpt2_codec.frame_bounds(signal.num_samples, frame_samples)
    header = {
        "format": container.FORMAT,
        "model": {"id": draw(st.text(max_size=16)), "extra": draw(JSON)},
        "tokenizer": draw(JSON),
        "audio": container.audio_header(x, signal.sample_rate, signal.bit_depth),
        "frames": {"samples": frame_samples, "per_group": draw(st.integers(1, 64)), "count": len(bounds)},
        "compute": {"engine": stepper.ENGINE, "dtype": "float32", "threads": draw(st.integers(1, 256)),
                    "device": draw(st.sampled_from(("cpu", "cuda"))), "context": draw(st.integers(1, 4096)),
                    "stride": draw(st.integers(1, 4096)), "probe": draw(st.text(max_size=16))},
        "coding": {"table": entropy.TABLE_FUNCTION, "coder": entropy.CODER, "precision": entropy.PRECISION},
        "encoder": draw(JSON),
    }
    payloads = [draw(st.binary(max_size=40).map(lambda b: b + bytes(-len(b) % 4))) for _ in bounds]
    frames = container.coded_frames(payloads, [x[a:b] for a, b in bounds], signal.bit_depth)
    return container.Container(header, frames), x, signal


PARTS = ("prefix", "header", "header CRC", "seek table", "seek table CRC", "payloads")


def layout(written: container.Container) -> dict[str, tuple[int, int]]:
    """Where each part of the written file lies, ``[start, end)`` in bytes (the module docstring's layout)."""
    header = len(json.dumps(written.header, sort_keys=True, separators=(",", ":")).encode())
    sizes = (4 + 2 + 4, header, 4, 4 + 12 * len(written.frames), 4, written.payload_bytes)
    ends = np.cumsum(sizes).tolist()
    return dict(zip(PARTS, zip([0, *ends[:-1]], ends, strict=True), strict=True))


@examples(60)
@given(file=trb_files())
def test_trb_container_round_trips(file: tuple[container.Container, np.ndarray, Signal]) -> None:
    written, x, signal = file
    data, parts = written.to_bytes(), layout(written)
    assert len(data) == parts["payloads"][1]
    header, offset = container.read_header(data)
    assert header == written.header and offset == parts["header CRC"][1]
    parsed = container.parse(data)
    assert parsed.header == written.header and parsed.frames == written.frames
    info = gpt2_codec.stream_info(parsed.header)
    assert (info.sample_rate, info.bit_depth, info.channels, info.num_samples, info.frame_count) == (
        signal.sample_rate, signal.bit_depth, signal.channels, signal.num_samples, len(written.frames))
    bounds = gpt2_codec.frame_bounds(info.num_samples, info.frame_samples)
    joined = container.check_decoded([x[a:b] for a, b in bounds], parsed, info.bit_depth, info.pcm_md5,
                                     gpt2_codec.CodecError)
    np.testing.assert_array_equal(joined, x)
    assert info.pcm_md5 == hashlib.md5(container.pcm_bytes(x, signal.bit_depth)).hexdigest()


@pytest.mark.parametrize("part", PARTS)
@examples(15)
@given(file=trb_files(), data=st.data())
def test_a_damaged_cut_or_extended_trb_file_is_refused(part: str, file: tuple[container.Container, np.ndarray, Signal],
                                                        data: st.DataObject) -> None:
    """One byte changed in ``part``, the file cut inside it, or anything after the file: refused, not decoded."""
    good = file[0].to_bytes()
    start, end = layout(file[0])[part]
    assume(end > start)  # frames may all have empty payloads
    damaged = bytearray(good)
    damaged[data.draw(st.integers(start, end - 1), label="byte")] ^= data.draw(st.integers(1, 255), label="xor")
    cut = good[: data.draw(st.integers(start, end - 1), label="cut at")]
    extended = good + data.draw(st.binary(min_size=1, max_size=8), label="tail")
    for bad in (bytes(damaged), cut, extended):
        with pytest.raises(container.ContainerError):
            container.parse(bad)


IMPOSSIBLE = {
    ("audio", "num_samples"): st.integers(max_value=0),
    ("audio", "bit_depth"): st.integers(-64, 64).filter(lambda depth: depth not in (8, 16, 24)),
    ("audio", "channels"): st.one_of(st.integers(max_value=0), st.integers(min_value=gpt2_codec.MAX_CHANNELS + 1)),
    ("audio", "sample_rate"): st.integers(max_value=0),
    ("frames", "samples"): st.integers(max_value=0),
    ("frames", "per_group"): st.integers(max_value=0),
    ("frames", "count"): st.integers(0, 1 << 24),  # any other than the frames the audio needs
    ("compute", "threads"): st.one_of(st.integers(max_value=0), st.integers(min_value=257)),
}


@pytest.mark.parametrize("field", IMPOSSIBLE, ids="/".join)
@examples(8)
@given(file=trb_files(), data=st.data())
def test_a_header_no_decoder_could_honour_is_refused(field: tuple[str, str],
                                                      file: tuple[container.Container, np.ndarray, Signal],
                                                      data: st.DataObject) -> None:
    written = file[0]
    section, name = field
    value = data.draw(IMPOSSIBLE[field].filter(lambda v: v != written.header[section][name]), label=name)
    written.header[section][name] = value
    if field != ("frames", "count"):  # the count the other fields call for: only ``field`` is wrong
        frames = written.header["frames"]
        frames["count"] = -(-written.header["audio"]["num_samples"] // max(1, frames["samples"]))
    header, _ = container.read_header(written.to_bytes())  # the header itself is intact
    with pytest.raises(container.ContainerError, match="invalid"):
        gpt2_codec.stream_info(header)


@examples(60)
@given(file=trb_files(), data=st.data())
def test_a_decoded_frame_off_by_one_sample_is_refused(file: tuple[container.Container, np.ndarray, Signal],
                                                      data: st.DataObject) -> None:
    written, x, signal = file
    bounds = gpt2_codec.frame_bounds(signal.num_samples, written.header["frames"]["samples"])
    frames = [x[a:b].copy() for a, b in bounds]
    index = data.draw(st.integers(0, len(frames) - 1), label="frame")
    row = data.draw(st.integers(0, len(frames[index]) - 1), label="row")
    channel = data.draw(st.integers(0, signal.channels - 1), label="channel")
    old = int(frames[index][row, channel])
    frames[index][row, channel] = data.draw(
        st.integers(signal.low, signal.high).filter(lambda v: v != old), label="value")
    with pytest.raises(gpt2_codec.CodecError, match=f"^frame {index}: "):
        container.check_decoded(frames, written, signal.bit_depth, written.header["audio"]["pcm_md5"],
                                gpt2_codec.CodecError)


@examples(60)
@given(signal=signals(min_samples=0, max_samples=500, channels=(1, 8)))
def test_pcm_bytes_are_the_samples_little_endian(signal: Signal) -> None:
    x, width = signal.pcm(), signal.bit_depth // 8
    raw = container.pcm_bytes(x, signal.bit_depth)
    assert len(raw) == x.size * width
    padded = np.frombuffer(raw, np.uint8).reshape(-1, width)
    back = sum(padded[:, i].astype(np.int64) << (8 * i) for i in range(width))
    back = np.where(back > signal.high, back - (1 << signal.bit_depth), back)  # sign-extend
    np.testing.assert_array_equal(np.asarray(back).reshape(x.shape), x)
    assert zlib.crc32(raw) == container.coded_frames([b""], [x], signal.bit_depth)[0].pcm_crc


# ------------------------------------------------------------------------------------------- Rice


def residuals(signal: Signal, difference: bool) -> np.ndarray:
    """The signal as one channel of residuals; ``difference``: its first difference (a fixed predictor's)."""
    x = signal.pcm()[:, 0]
    return np.diff(x, prepend=0) if difference and signal.bit_depth < 32 else x


def rice_signals(kind: str, max_samples: int = 5000) -> st.SearchStrategy[Signal]:
    return signals(min_samples=0, max_samples=max_samples, edge_lengths=(0, 1, 2, 4095, 4096, 4097),
                   channels=(1, 1), depths=(8, 16, 24, 32), kinds=(kind,))


@pytest.mark.parametrize("kind", KINDS)
@examples(8)
@given(data=st.data(), difference=st.booleans(), predictor_order=st.integers(0, 32),
       max_order=st.integers(0, rice.MAX_PARTITION_ORDER), param_bits=st.sampled_from((None, 4, 5)))
def test_rice_sections_round_trip_at_their_planned_size(kind: str, data: st.DataObject, difference: bool,
                                                        predictor_order: int, max_order: int,
                                                        param_bits: int | None) -> None:
    signal = data.draw(rice_signals(kind), label="signal")
    x = residuals(signal, difference)
    if param_bits == 4 and signal.bit_depth == 32:
        x = x[:64]  # 32-bit values cannot be escaped: 4-bit parameters leave unary codes of 2**18 bits
    check_round_trip(x, predictor_order, max_partition_order=max_order, param_bits=param_bits)


@pytest.mark.parametrize("kind", KINDS)
@examples(5)
@given(data=st.data(), difference=st.booleans(), predictor_order=st.integers(0, 8), max_order=st.integers(0, 8),
       param_bits=st.sampled_from((4, 5)))
def test_rice_plans_are_the_exact_optimum(kind: str, data: st.DataObject, difference: bool, predictor_order: int,
                                          max_order: int, param_bits: int) -> None:
    x = residuals(data.draw(rice_signals(kind, 256), label="signal"), difference)
    assert rice.plan(x, predictor_order, max_order, param_bits).bits == brute_force_bits(
        x, predictor_order, max_order, param_bits)


@pytest.mark.parametrize("kind", KINDS)
@examples(6)
@given(data=st.data(), difference=st.booleans(), block_size=st.integers(1, 5000))
def test_rice_block_streams_round_trip_and_refuse_cut_or_extended_data(kind: str, data: st.DataObject,
                                                                       difference: bool, block_size: int) -> None:
    x = residuals(data.draw(rice_signals(kind), label="signal"), difference)
    stream = rice.encode_blocks(x, block_size)
    assert len(stream) == -(-rice.blocks_bit_count(x, block_size) // 8)
    np.testing.assert_array_equal(rice.decode_blocks(stream, x.size, block_size), x)
    with pytest.raises(rice.RiceError, match="goes on"):
        rice.decode_blocks(stream + data.draw(st.binary(min_size=1, max_size=4), label="tail"), x.size, block_size)
    if stream:
        cut = data.draw(st.integers(0, len(stream) - 1), label="cut at")
        with pytest.raises(rice.RiceError, match="truncated"):
            rice.decode_blocks(stream[:cut], x.size, block_size)
