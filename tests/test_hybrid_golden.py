"""The hybrid bitstream is frozen: committed ``.trh`` files (tests/golden) decode bit for bit to the PCM
whose MD5 their manifest records, with the committed models, current and older kernels alike."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from trilobyte.core import container
from trilobyte.hybrid import codec, engine, payload
from trilobyte.hybrid.model import load

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())


def test_the_manifest_covers_depths_channels_rates_and_models() -> None:
    files = MANIFEST["files"]
    assert {f["bit_depth"] for f in files} == {8, 16, 24}
    assert {f["channels"] for f in files} == {1, 2}
    assert min(f["sample_rate"] for f in files) == 8000 and max(f["sample_rate"] for f in files) == 96000
    assert {f["model"] for f in files} == set(MANIFEST["models"]) == {
        "current", "first-kernel", "covariance-v1", "default", "default3", "default4", "default5", "default6",
        "default7"}
    assert sum((GOLDEN / f["file"]).stat().st_size for f in files) < 1 << 20


def test_the_manifest_covers_every_frame_layout() -> None:
    layouts = {f["file"]: codec.stream_info(codec.read_header((GOLDEN / f["file"]).read_bytes())).layout
               for f in MANIFEST["files"]}
    layout2 = {name for name, layout in layouts.items() if layout == 2}
    layout3 = {name for name, layout in layouts.items() if layout == 3}
    layout4 = {name for name, layout in layouts.items() if layout == 4}
    layout5 = {name for name, layout in layouts.items() if layout == 5}
    layout6 = {name for name, layout in layouts.items() if layout == 6}
    later = layout3 | layout4 | layout5 | layout6
    assert layout2 == {"layout2-wasted-44k16-stereo.trh", "layout2-flac-block-22k16-mono.trh",
                       "layout2-flac-block-48k24-wide.trh"} | {f["file"] for f in MANIFEST["files"]
                                                                 if f["model"] == "default"} - later
    assert layout3 == {"layout3-values-22k16-mono.trh", "layout3-values-44k16-stereo.trh",
                       "layout3-search-16k16-mono.trh"}
    assert layout4 == {"layout4-clusters-11k16-mono.trh", "layout4-held-22k8-stereo.trh"}
    assert layout5 == {"layout5-recent-11k16-mono.trh", "default3-quiet-44k16-stereo.trh"}
    assert layout6 == {"layout6-primed-16k16-mono.trh", "layout6-faster-16k16-mono.trh",
                       "default4-mixed-44k16-mono.trh", "default5-quiet-44k16-stereo.trh",
                       "default6-quiet-48k16-mono.trh", "default7-recent-44k16-mono.trh"}
    (faster,) = codec.parse((GOLDEN / "layout6-faster-16k16-mono.trh").read_bytes()).frames
    assert faster.payload[0] >> 5 & 1 and faster.payload[1] == 4  # an options byte naming variant 4
    assert set(layouts.values()) == {1, 2, 3, 4, 5, 6}
    # the values files code every channel among its value table; the search file names a cascade variant;
    # the held file's frames are held
    for name in layout3 | layout4:
        payloads = [f.payload for f in codec.parse((GOLDEN / name).read_bytes()).frames]
        if "held" in name:
            assert all(p[0] >> 5 & 1 and p[1] == 0x10 and p[2] == 1 | 1 << 4 for p in payloads)
        else:
            heads = [p[0] for p in payloads]
            assert all(h >> 6 in (1, 3) for h in heads) if "search" not in name else all(h >> 5 == 1 for h in heads)


@pytest.mark.parametrize("entry", MANIFEST["files"], ids=lambda e: e["file"])
def test_golden_file_decodes_bit_exactly(entry: dict) -> None:
    model_dir = GOLDEN / "model" / entry["model"]
    assert load(model_dir).model_id == MANIFEST["models"][entry["model"]]
    data = (GOLDEN / entry["file"]).read_bytes()
    assert codec.read_header(data)["model"]["id"] == MANIFEST["models"][entry["model"]]
    samples, info = codec.decode(data, model_dir)
    assert samples.shape == (entry["num_samples"], entry["channels"])
    assert (info.sample_rate, info.bit_depth) == (entry["sample_rate"], entry["bit_depth"])
    assert hashlib.md5(container.pcm_bytes(samples, entry["bit_depth"])).hexdigest() == entry["pcm_md5"]


def test_the_third_default_models_file_needs_the_exact_sum_of_the_parts() -> None:
    """The default3 file freezes ``fine_sum``: decoded with the parts each rounded, it comes out wrong."""
    data = (GOLDEN / "default3-quiet-44k16-stereo.trh").read_bytes()
    model = load(GOLDEN / "model" / "default3")
    assert model.settings.fine_sum
    info = codec.stream_info(codec.read_header(data))
    frame = codec.parse(data).frames[0].payload
    length = min(info.num_samples, info.frame_samples)
    exact = payload.decode_payload(model, frame, length, info.channels, info.bit_depth, info.sample_rate, info.layout)
    coarse = replace(model, settings=replace(model.settings, fine_sum=False))
    try:
        wrong = payload.decode_payload(coarse, frame, length, info.channels, info.bit_depth, info.sample_rate,
                                       info.layout)
    except engine.FrameError:
        return
    assert not np.array_equal(wrong, exact)


@pytest.mark.parametrize("file,model_name,field,off", [
    ("default4-mixed-44k16-mono.trh", "default4", "stage_mix", False),
    ("default5-quiet-44k16-stereo.trh", "default5", "lpc_fraction", 0),
    ("default6-quiet-48k16-mono.trh", "default6", "fine_inputs", False),
    ("default7-recent-44k16-mono.trh", "default7", "nlms_recent", 0),
    ("default7-recent-44k16-mono.trh", "default7", "wide_orders", (1024, 64, 16)),
])
def test_a_default_models_file_needs_the_setting_it_froze(file: str, model_name: str, field: str, off: object) -> None:
    """default4 froze ``stage_mix``, default5 ``lpc_fraction``, default6 ``fine_inputs``, default7
    ``nlms_recent`` and a 1,536-tap first stage: each file decoded with its model's setting turned off (or
    the stage at 1,024 taps) comes out wrong."""
    data = (GOLDEN / file).read_bytes()
    model = load(GOLDEN / "model" / model_name)
    assert getattr(model.settings, field) != off
    info = codec.stream_info(codec.read_header(data))
    (frame,) = codec.parse(data).frames
    args = (info.num_samples, info.channels, info.bit_depth, info.sample_rate, info.layout)
    exact = payload.decode_payload(model, frame.payload, *args)
    assert np.array_equal(exact, codec.decode(data, GOLDEN / "model" / model_name)[0])
    without = replace(model, settings=replace(model.settings, **{field: off}))
    try:
        wrong = payload.decode_payload(without, frame.payload, *args)
    except engine.FrameError:
        return
    assert not np.array_equal(wrong, exact)


def test_the_layout_6_files_later_frames_need_their_lead() -> None:
    """The primed file's second frame decodes only after the frame before it (its lead)."""
    data = (GOLDEN / "layout6-primed-16k16-mono.trh").read_bytes()
    model = load(GOLDEN / "model" / "current")
    info = codec.stream_info(codec.read_header(data))
    assert (info.frame_count, info.lead, info.chain) == (3, info.frame_samples, 8)
    frames = [f.payload for f in codec.parse(data).frames]
    n = info.frame_samples
    first = payload.decode_payload(model, frames[0], n, 1, 16, info.sample_rate, info.layout)
    second = payload.decode_payload(model, frames[1], n, 1, 16, info.sample_rate, info.layout, first)
    assert np.array_equal(np.concatenate([first, second]), codec.decode(data, GOLDEN / "model" / "current")[0][: 2 * n])
    try:
        cold = payload.decode_payload(model, frames[1], n, 1, 16, info.sample_rate, info.layout)
    except engine.FrameError:
        return
    assert not np.array_equal(cold, second)
