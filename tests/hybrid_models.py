"""Small hybrid models for the tests: a quick network of random weights around the fixed distribution."""

from __future__ import annotations

import numpy as np

from trilobyte.hybrid.model import HybridModel, fixed_weights, quantize
from trilobyte.hybrid.settings import HybridSettings

SMALL = HybridSettings(lpc_order=8, orders=(16, 8, 4), history=8, hidden=(16, 16), frame_samples=1500,
                       context_features=1)


def random_model(seed: int, settings: HybridSettings = SMALL) -> HybridModel:
    """A network with random weights around the fixed distribution: exercises every layer."""
    rng = np.random.default_rng(seed)
    w = fixed_weights(settings)
    for name in w:
        w[name] = w[name] + rng.normal(0, 0.2, size=w[name].shape)
    return HybridModel(settings, quantize(w), {"datasets": [], "valid": []})
