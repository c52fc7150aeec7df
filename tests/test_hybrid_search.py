"""The search preset: each frame tries the cascade variants (and stereo pairings), names the one it kept
in its head, and decodes exactly at the default preset's decode cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from trilobyte.hybrid import codec, engine, payload
from trilobyte.hybrid.model import HybridModel, fixed_weights, quantize
from trilobyte.hybrid.settings import VARIANTS, HybridSettings, SettingsError

FAST = HybridSettings(lpc_order=8, orders=(16, 8, 4), wide_orders=(16, 8, 4), history=4, hidden=(8, 8),
                      frame_samples=6000)


@pytest.fixture(scope="module")
def fixed() -> HybridModel:
    return HybridModel(FAST, quantize(fixed_weights(FAST)), {"datasets": [], "valid": []})


def tone(n: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = 6000 * np.sin(2 * np.pi * t * (0.011 + 0.004 * np.arange(channels))) * np.exp(-t / n)
    return np.round(x + rng.normal(0, 40, (n, channels))).astype(np.int64)


def test_each_variant_changes_what_it_names() -> None:
    settings = HybridSettings(rates=(4, 6, 40), lpc_decay=4, scale_shift=8)
    base = settings.kernel_config(16, 1, 8000)
    assert len(VARIANTS) == 5 and settings.kernel_config(16, 1, 8000, variant=0) == base
    slower = settings.kernel_config(16, 1, 8000, variant=1)
    assert (slower.rate0, slower.rate1, slower.rate2) == (5, 7, 40)  # capped at 40
    assert settings.kernel_config(16, 1, 8000, variant=2).lpc_decay == 4  # floored at 4
    assert HybridSettings().kernel_config(16, 1, 8000, variant=2).lpc_decay == HybridSettings().lpc_decay - 1
    assert settings.kernel_config(16, 1, 8000, variant=3).scale_shift == 8
    assert HybridSettings().kernel_config(16, 1, 8000, variant=3).scale_shift == HybridSettings().scale_shift + 1
    faster = settings.kernel_config(16, 1, 8000, variant=4)
    assert (faster.rate0, faster.order1) == (3, 64)  # orders (32, 16, 8): the second four times longer
    assert HybridSettings(rates=(3 + 4, 4, 4)).kernel_config(16, 1, 8000, variant=4).rate0 == 6
    wide = HybridSettings(wide_orders=(1024, 512, 16), wide_from=16000).kernel_config(16, 1, 44100, variant=4)
    assert (wide.rate0, wide.order1) == (3, 1024)  # capped at MAX_ORDER
    for variant in (1, 2, 3, 4):
        changed = {k for k, v in HybridSettings().kernel_config(16, 2, 44100, variant=variant)._asdict().items()
                   if v != HybridSettings().kernel_config(16, 2, 44100)._asdict()[k]}
        named = [{"rate0", "rate1", "rate2"}, {"lpc_decay"}, {"scale_shift"}, {"rate0", "order1"}]
        assert changed == named[variant - 1]
    with pytest.raises(SettingsError, match="variant 5"):
        settings.kernel_config(16, 1, 8000, variant=5)


def test_a_variant_is_named_in_the_head_and_decodes(fixed: HybridModel) -> None:
    x = tone(5000, 1, 0) << 1
    sizes = []
    for variant in range(len(VARIANTS)):
        data = payload.encode_payload(fixed, x, 16, 16000, variant=variant)
        assert data[0] == (1 if variant == 0 else 0b0010_0001)  # 1 wasted bit; bit 5: a variant byte
        if variant:
            assert data[1] == variant
        assert np.array_equal(payload.decode_payload(fixed, data, len(x), 1, 16, 16000), x)
        sizes.append(len(data))
        words, _ = engine.kernel_words(fixed, x >> 1, 16, 16000, variant=variant, calibrate=True, recent=True)
        assert data[2 if variant else 1:][4: 4 + len(words)] == words
    assert len(set(sizes)) > 1  # the variants code differently


def test_a_bad_variant_byte_is_a_frame_error(fixed: HybridModel) -> None:
    x = tone(3000, 1, 1)
    data = payload.encode_payload(fixed, x, 16, 8000, variant=2)
    assert data[:2] == bytes([0b0010_0000, 2])  # the head, then the options byte: variant 2, not held
    for layout, bad in ((4, 0), (4, len(VARIANTS)), (4, 0x20), (3, 0), (3, len(VARIANTS)), (3, 0x12)):
        with pytest.raises(engine.FrameError, match=f"options byte {bad:#04x} names no known cascade variant"):
            payload.decode_payload(fixed, data[:1] + bytes([bad]) + data[2:], len(x), 1, 16, 8000, layout)
    with pytest.raises(engine.FrameError, match="options byte 0x00"):
        payload.decode_payload(fixed, data, len(x), 1, 16, 8000, layout=2)


def test_the_search_preset_keeps_the_smallest_try(tmp_path: Path, fixed: HybridModel) -> None:
    model_dir = fixed.save(tmp_path / "model")
    for channels in (1, 2):
        x = tone(15000, channels, 2 + channels)
        default = codec.encode(x, x.shape[0], 16, model_dir)
        search = codec.encode(x, x.shape[0], 16, model_dir, preset="search")
        assert search.container.header["encoder"]["preset"] == "search"
        assert np.array_equal(codec.decode(search.data, model_dir)[0], x)
        frames = codec.parse(search.data).frames
        plain = codec.parse(default.data).frames
        modes = (0, 1, 2) if channels == 2 else (None,)
        lead, chain = codec.lead_and_chain(FAST.frame_samples)
        bounds = engine.frames(len(x), FAST.frame_samples)
        for i, ((a, b), frame, first) in enumerate(zip(bounds, frames, plain, strict=True)):
            primed = payload.lead_of(x, a, lead if i % chain else 0)
            pairings = [payload.encode_payload(fixed, x[a:b], 16, len(x), mode, lead=primed) for mode in modes]
            mode = modes[int(np.argmin([len(p) for p in pairings]))]
            variants = [payload.encode_payload(fixed, x[a:b], 16, len(x), mode, variant=v, lead=primed)
                        for v in range(1, len(VARIANTS))]
            default = [payload.encode_payload(fixed, x[a:b], 16, len(x), variant=v, lead=primed)
                       for v in codec.DEFAULT_VARIANTS]
            assert len(first.payload) == min(map(len, default))
            assert len(frame.payload) == min(map(len, pairings + variants + default)) <= len(first.payload)
        assert any(f.payload[0] >> 5 & 1 for f in frames)  # some frame kept a variant
