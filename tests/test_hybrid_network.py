"""The hybrid network's integer arithmetic never overflows, at the extreme weights a model may hold: its
hidden activations are clamped, and every model that loads is checked against the bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from tests.conftest import synth
from trilobyte.hybrid import codec, network
from trilobyte.hybrid.model import LAYERS, HybridModel, load
from trilobyte.hybrid.network import ACT_CLIP, MAX_WEIGHT, NET_BITS
from trilobyte.hybrid.settings import MAX_HIDDEN, HybridSettings, SettingsError

WIDEST = HybridSettings(history=64, hidden=(MAX_HIDDEN, MAX_HIDDEN), components=8, context_features=2,
                        lpc_order=4, orders=(4, 2, 2), wide_orders=(4, 2, 2), frame_samples=256)
GOLDEN = Path(__file__).resolve().parent / "golden" / "model"


def extreme_weights(settings: HybridSettings, seed: int | None) -> dict[str, np.ndarray]:
    """Every weight and bias at +-2**30: all positive (``seed`` None) or random signs."""
    d, (h1, h2), o = settings.features, settings.hidden, settings.outputs
    shapes = {"w1": (d, h1), "b1": (h1,), "w2": (h1, h2), "b2": (h2,), "w3": (h2, o), "b3": (o,)}
    rng = np.random.default_rng(seed)
    return {n: (np.ones(s, dtype=np.int64) if seed is None else rng.choice([-1, 1], size=s)) * MAX_WEIGHT
            for n, s in shapes.items()}


def reference(f: list[int], weights: dict[str, np.ndarray]) -> list[int]:
    """The network in Python's unbounded integers, with the clamp: what the kernel must compute."""
    h = f
    for layer in (1, 2, 3):
        w, b = weights[f"w{layer}"].tolist(), weights[f"b{layer}"].tolist()
        out = []
        for j, bias in enumerate(b):
            acc = bias + sum(x * row[j] for x, row in zip(h, w, strict=True))
            out.append(min(max(acc, 0) >> NET_BITS, ACT_CLIP) if layer < 3 else acc >> NET_BITS)
        h = out
    return h


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_the_network_at_extreme_weights_computes_exactly(seed: int | None) -> None:
    weights = extreme_weights(WIDEST, seed)
    model = HybridModel(WIDEST, weights)  # loads: the check finds no sum that could overflow
    peak, worst = model.network_bounds
    assert peak > ACT_CLIP and not model.clamp_free
    assert worst < 1 << 63
    rng = np.random.default_rng(seed)
    top = np.array(network.feature_bounds(WIDEST.history, WIDEST.context_features), dtype=np.int64)
    for f in (top, -top, rng.integers(-top, top + 1)):
        layers = np.zeros((3, MAX_HIDDEN), dtype=np.int64)
        network.forward(f, model.kernel_weights(), layers)
        assert layers[2, : WIDEST.outputs].tolist() == reference(f.tolist(), weights)


def test_a_model_at_extreme_weights_codes_exactly(tmp_path: Path) -> None:
    model_dir = HybridModel(WIDEST, extreme_weights(WIDEST, 3)).save(tmp_path / "extreme")
    x = synth(300, 2, 16, seed=5)
    samples, _ = codec.decode(codec.encode(x, 44100, 16, model_dir).data, model_dir)
    assert np.array_equal(samples, x)


def test_hidden_layers_wider_than_the_bounds_allow_are_refused() -> None:
    with pytest.raises(SettingsError, match="width"):
        HybridSettings(hidden=(MAX_HIDDEN + 1, 16))


@pytest.mark.parametrize("name", ["current", "first-kernel", "covariance-v1"])
def test_trained_models_never_reach_the_clamp(name: str) -> None:
    """The clamp cannot change what a trained model codes: its activations stay far below it."""
    model = load(GOLDEN / name)
    assert model.clamp_free
    assert model.network_bounds[0] < ACT_CLIP >> 6
    assert set(model.weights) == set(LAYERS)
