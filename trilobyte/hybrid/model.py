"""A hybrid model on disk: integer network weights (safetensors) and ``hybrid.json`` (settings, record).

The network's float weights are trained (:mod:`trilobyte.hybrid.train`) and quantized once, by
:func:`quantize`, to integers with 12 fractional bits (biases 22: inputs carry 10); only the integers are
used for coding. A model's identity (``model_id``) hashes the integer weights, the settings and the
kernel's lookup tables, and every file names it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.hybrid import network
from trilobyte.hybrid.network import ACT_CLIP, MAX_WEIGHT
from trilobyte.hybrid.settings import HybridSettings, SettingsError
from trilobyte.hybrid.tables import tables_digest

SETTINGS_FILE = "hybrid.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "trilobyte-hybrid"
FORMAT_VERSION = 1
LAYERS = ("w1", "b1", "w2", "b2", "w3", "b3")
WEIGHT_BITS = 12
BIAS_BITS = 22


class ModelError(ValueError):
    """A model folder that cannot be used: missing, incomplete, or not a hybrid model."""


def quantize(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float weights ``w1 (in, h1), b1, w2, b2, w3, b3`` to int64: round half to even of w * 2**12, b * 2**22."""
    out = {}
    for name in LAYERS:
        bits = BIAS_BITS if name.startswith("b") else WEIGHT_BITS
        value = np.rint(np.asarray(weights[name], dtype=np.float64) * (1 << bits))
        out[name] = np.clip(value, -MAX_WEIGHT, MAX_WEIGHT).astype(np.int64)
    return out


def fixed_weights(settings: HybridSettings, log2_width: float = -0.47) -> dict[str, np.ndarray]:
    """A network that ignores its inputs: one logistic on the prediction, width 2**log2_width x the scale."""
    d, (h1, h2), o = settings.features, settings.hidden, settings.outputs
    w = {"w1": np.zeros((d, h1)), "b1": np.zeros(h1), "w2": np.zeros((h1, h2)), "b2": np.zeros(h2),
         "w3": np.zeros((h2, o)), "b3": np.zeros(o)}
    for k in range(settings.components):
        w["b3"][3 * k] = 0.0 if k == 0 else -20.0
        w["b3"][3 * k + 2] = log2_width
    return w


@dataclass
class HybridModel:
    """Settings plus the integer network; ``training`` is the record of how it was made."""

    settings: HybridSettings
    weights: dict[str, np.ndarray]
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d, (h1, h2), o = self.settings.features, self.settings.hidden, self.settings.outputs
        shapes = {"w1": (d, h1), "b1": (h1,), "w2": (h1, h2), "b2": (h2,), "w3": (h2, o), "b3": (o,)}
        for name, shape in shapes.items():
            value = self.weights.get(name)
            if value is None or tuple(value.shape) != shape:
                got = None if value is None else tuple(value.shape)
                raise ModelError(f"network weight {name} has shape {got}, the settings need {shape}")
            if value.dtype != np.int64:
                raise ModelError(f"network weight {name} is {value.dtype}, not int64")
            if np.abs(value).max(initial=0) > MAX_WEIGHT:
                raise ModelError(f"network weight {name} exceeds 2**30")
        if self.network_bounds[1] >= 1 << 63:  # never, within the settings' widths: checked all the same
            raise ModelError("the network's sums could overflow 64 bits")

    @cached_property
    def network_bounds(self) -> tuple[int, int]:
        """(the largest hidden activation, before the clamp, and the largest magnitude of any sum) the network
        reaches over every input the kernel can give it."""
        return network.bounds(self.kernel_weights(), self.settings.history, self.settings.context_features)

    @property
    def clamp_free(self) -> bool:
        """Whether the activation clamp can never act: the model codes exactly as a kernel without it."""
        return self.network_bounds[0] <= ACT_CLIP

    @cached_property
    def model_id(self) -> str:
        """32 hex digits over the integer weights, the settings and the kernel tables."""
        h = hashlib.sha256()
        h.update(json.dumps(self.settings.identity(), sort_keys=True).encode())
        h.update(tables_digest().encode())
        for name in LAYERS:
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.weights[name], dtype="<i8").tobytes())
        return h.hexdigest()[:32]

    @property
    def parameters(self) -> int:
        return int(sum(self.weights[n].size for n in LAYERS))

    def kernel_weights(self) -> tuple[np.ndarray, ...]:
        return tuple(np.ascontiguousarray(self.weights[n]) for n in LAYERS)

    def save(self, directory: Path | str) -> Path:
        """Write ``model.safetensors`` (int64 weights) and ``hybrid.json`` into ``directory``."""
        from safetensors.numpy import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (WEIGHTS_FILE + ".tmp")
        save_file({n: np.ascontiguousarray(self.weights[n]) for n in LAYERS}, str(tmp))
        os.replace(tmp, directory / WEIGHTS_FILE)
        info = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "settings": self.settings.to_dict(),
            "model_id": self.model_id,
            "parameters": self.parameters,
            "tables": tables_digest(),
            "training": self.training,
        }
        tmp = directory / (SETTINGS_FILE + ".tmp")
        tmp.write_text(json.dumps(info, indent=1) + "\n")
        os.replace(tmp, directory / SETTINGS_FILE)
        return directory


def load(directory: Path | str) -> HybridModel:
    """A saved model (local folder only); its stored id must match its contents."""
    from safetensors.numpy import load_file

    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such model folder")
    path = directory / SETTINGS_FILE
    if not path.exists():
        raise ModelError(f"{directory}: not a hybrid model folder (no {SETTINGS_FILE})")
    try:
        info = json.loads(path.read_text())
        if info.get("format") != FORMAT:
            raise ModelError(f"{path}: not a hybrid model description (format {info.get('format')!r})")
        if info.get("version") != FORMAT_VERSION:
            raise ModelError(f"{path}: version {info.get('version')} is not {FORMAT_VERSION}")
        settings = HybridSettings.from_dict(info["settings"])
        weights = load_file(str(directory / WEIGHTS_FILE))
    except (OSError, ValueError, KeyError, TypeError, SettingsError) as err:
        if isinstance(err, ModelError):
            raise
        raise ModelError(f"{directory}: unreadable hybrid model ({err})") from err
    model = HybridModel(settings, {k: np.asarray(v, dtype=np.int64) for k, v in weights.items()},
                        dict(info.get("training") or {}))
    if info.get("model_id") != model.model_id:
        raise ModelError(f"{directory}: weights or settings do not match the recorded model id (a damaged model)")
    return model


_CACHE: dict[str, HybridModel] = {}


def get_model(directory: Path | str) -> HybridModel:
    """One loaded model per folder in each process."""
    key = str(Path(directory).expanduser().resolve())
    if key not in _CACHE:
        _CACHE[key] = load(key)
    return _CACHE[key]
