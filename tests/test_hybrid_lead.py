"""Primed frames (layout 6): a frame after the first in its chain starts from the samples before it, decodes
exactly only with them, and a file's chains decode alike in one process or several."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from trilobyte.core import container
from trilobyte.hybrid import codec, engine, payload
from trilobyte.hybrid.defaults import DEFAULT_MODEL
from trilobyte.hybrid.model import get_model

RATE = 8000


def tones(n: int, seed: int = 0) -> np.ndarray:
    """Two steady partials over a little noise: what a cascade needs a few thousand samples to learn."""
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 30, n)
    return np.round(6000 * np.sin(2 * np.pi * t * 440 / RATE) + 2500 * np.sin(2 * np.pi * t * 1230 / RATE + 1)
                    + noise).astype(np.int64)[:, None]


def test_a_primed_frame_codes_smaller_and_needs_its_lead() -> None:
    model = get_model(DEFAULT_MODEL)
    x = tones(3 * engine.BLOCK + 20000)
    lead, frame = x[: 4 * engine.BLOCK], x[4 * engine.BLOCK:]
    cold = payload.encode_payload(model, frame, 16, RATE)
    warm = payload.encode_payload(model, frame, 16, RATE, lead=lead)
    assert len(warm) < len(cold)
    assert np.array_equal(payload.decode_payload(model, warm, len(frame), 1, 16, RATE, lead=lead), frame)
    try:
        unprimed = payload.decode_payload(model, warm, len(frame), 1, 16, RATE)
    except engine.FrameError:
        return
    assert not np.array_equal(unprimed, frame)


def test_a_lead_is_whole_blocks_and_only_layout_6_is_primed() -> None:
    model = get_model(DEFAULT_MODEL)
    x = tones(engine.BLOCK + 3000)
    with pytest.raises(ValueError, match="whole blocks"):
        payload.encode_payload(model, x[100:], 16, RATE, lead=x[:100])
    with pytest.raises(ValueError, match="whole blocks"):
        payload.lead_of(x, 1000, engine.BLOCK)
    assert payload.lead_of(x, 0, engine.BLOCK) is None
    assert payload.lead_of(x, engine.BLOCK, 0) is None
    data = payload.encode_payload(model, x[engine.BLOCK:], 16, RATE)
    with pytest.raises(ValueError, match="not primed"):
        payload.decode_payload(model, data, 3000, 1, 16, RATE, layout=5, lead=x[: engine.BLOCK])


def test_wasted_bits_and_holds() -> None:
    model = get_model(DEFAULT_MODEL)
    x = tones(engine.BLOCK + 6000, 1)
    lead = x[: engine.BLOCK] + 1  # odd: the frame's wasted bit shifts it
    frame = x[engine.BLOCK:] << 1
    data = payload.encode_payload(model, frame, 16, RATE, lead=lead)
    assert data[0] & 31 == 1
    assert np.array_equal(payload.decode_payload(model, data, len(frame), 1, 16, RATE, lead=lead), frame)
    held = np.repeat(x[engine.BLOCK: engine.BLOCK + 3000], 2, axis=0)  # a held frame is not primed
    assert payload.encode_payload(model, held, 16, RATE, lead=lead) == payload.encode_payload(model, held, 16, RATE)


def test_a_file_decodes_chain_by_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    model = get_model(DEFAULT_MODEL)
    size = model.settings.frame_samples
    x = tones(2 * size + 5000, 2)
    monkeypatch.setattr(codec, "CHAIN", 2)  # frames 0 and 1 one chain, frame 2 the next
    encoded = codec.encode(x, RATE, 16, DEFAULT_MODEL, workers=2)
    assert encoded.container.header["frames"] == {"samples": size, "count": 3, "lead": codec.LEAD, "chain": 2}
    assert encoded.container.header["coding"]["layout"] == payload.LAYOUT == 6
    frames = [f.payload for f in encoded.container.frames]

    def smallest(frame: np.ndarray, lead: np.ndarray | None = None) -> bytes:
        return min((payload.encode_payload(model, frame, 16, RATE, variant=v, lead=lead)
                    for v in codec.DEFAULT_VARIANTS), key=len)

    assert frames[0] == smallest(x[:size])
    assert frames[1] == smallest(x[size: 2 * size], x[size - codec.LEAD: size])
    assert frames[2] == smallest(x[2 * size:])  # a chain's first
    for workers in (1, 2):
        decoded, info = codec.decode(encoded.data, DEFAULT_MODEL, workers)
        assert np.array_equal(decoded, x) and (info.lead, info.chain) == (codec.LEAD, 2)


@pytest.mark.parametrize("frames", [{"lead": 100, "chain": 8}, {"lead": 1 << 14, "chain": 1},
                                    {"lead": 1 << 30, "chain": 8}, {"lead": 0, "chain": 0}])
def test_a_header_with_an_impossible_lead_is_refused(frames: dict[str, int]) -> None:
    x = tones(3000)
    encoded = codec.encode(x, RATE, 16, DEFAULT_MODEL)
    header = encoded.container.header
    header["frames"].update(frames)
    with pytest.raises(container.ContainerError):
        codec.stream_info(header)
    header["frames"].update({"lead": 1 << 14, "chain": 8})
    header["coding"]["layout"] = 5
    with pytest.raises(container.ContainerError, match="primed"):
        codec.stream_info(header)
