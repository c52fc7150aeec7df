"""The hybrid coder as a benchmark method: a per-file coder and ``make_estimator(**settings)``.

"coded" (the default): every file is encoded into a ``.trh`` file's frames, decoded and compared bit
for bit; the rate counts the frames' range-coded payloads (the header and seek table are
``container_bits``). "ideal": the files are only encoded (no decode), for quick ablations; the range
coder's length is the integer model's information content plus at most two words per frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core.datasets import AudioClip, Dataset
from trilobyte.core.leakage import check_evaluation
from trilobyte.core.protocol import FileRate, LosslessError, RateResult
from trilobyte.core.runner import estimate_with_runner
from trilobyte.hybrid import engine, payload
from trilobyte.hybrid.codec import encode
from trilobyte.hybrid.model import SETTINGS_FILE, WEIGHTS_FILE, HybridModel, get_model

METHOD = "hybrid"
PACKAGES = ("numba", "constriction", "safetensors")
MODES = ("coded", "ideal")


@dataclass(frozen=True)
class HybridCoder:
    """A saved hybrid model as a per-file coder; ``allow_trained_clips`` evaluates clips it was trained on
    (the result is marked) instead of refusing them."""

    model_dir: str
    mode: str = "coded"
    name: str = METHOD
    label: str = field(default="", compare=False)
    allow_trained_clips: bool = False
    leakage: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")

    @property
    def model(self) -> HybridModel:
        return get_model(self.model_dir)

    def config(self) -> dict[str, Any]:
        m = self.model
        return {"model": Path(self.model_dir).name, "model_id": m.model_id, "mode": self.mode,
                "settings": m.settings.to_dict(), "parameters": m.parameters}

    def config_name(self) -> str:
        return f"{self.label or Path(self.model_dir).name}-{self.model.model_id[:8]}-{self.mode}"

    def result_extra(self) -> dict[str, Any]:
        return {"training": {k: v for k, v in self.model.training.items() if k != "environment"},
                "payload": "range-coded frames; header and seek table are container_bits"}

    def code_file(self, clip: AudioClip) -> FileRate:
        start = time.perf_counter()
        model = self.model
        if self.mode == "ideal":
            bits = 0
            for a, b in engine.frames(clip.num_samples, model.settings.frame_samples):
                bits += 8 * len(payload.encode_payload(model, clip.samples[a:b], clip.bit_depth, clip.sample_rate))
            return FileRate.for_clip(clip, bits, seconds=time.perf_counter() - start)
        encoded = encode(clip.samples, clip.sample_rate, clip.bit_depth, self.model_dir)
        encoded_at = time.perf_counter()
        from trilobyte.hybrid.codec import decode

        decoded, _ = decode(encoded.data, self.model_dir)
        done = time.perf_counter()
        if decoded.shape != clip.samples.shape or not np.array_equal(decoded, clip.samples):
            raise LosslessError(f"{clip.id}: hybrid round trip is not bit-exact")
        return FileRate.for_clip(clip, encoded.payload_bits, container_bits=encoded.container_bits,
                                 seconds=done - start,
                                 extra={"encode_seconds": encoded_at - start, "decode_seconds": done - encoded_at})

    def report_columns(self) -> tuple[str, ...]:
        """Hybrid; the ablations (network without the cascade, cascade with a fixed distribution) apart."""
        if not self.model.settings.cascade:
            return ("Hybrid: network alone",)
        if self.model.training.get("fixed"):
            return ("Hybrid: cascade alone",)
        return ("Hybrid",)

    def report_label(self) -> str:
        return f"{self.report_columns()[0]} ({self.config_name()})"

    def check_dataset(self, dataset: Dataset) -> None:
        """Refuse (trilobyte.core.leakage.LeakageError), before any work, a dataset holding clips the model was
        trained on, unless allowed; the toolkit's shared check, from the training record and clip list."""
        self.leakage[dataset.fingerprint] = check_evaluation(self.model.training, dataset, self.model_dir,
                                                             self.allow_trained_clips)

    def finish(self, result: RateResult) -> RateResult:
        result.model_parameters = self.model.parameters
        result.extra.update(self.leakage.get(result.dataset_fingerprint, {}))
        directory = Path(self.model_dir)
        result.model_bytes = sum((directory / n).stat().st_size for n in (WEIGHTS_FILE, SETTINGS_FILE))
        return result

    def estimate_rate(self, dataset: Dataset) -> RateResult:
        """Rate on a dataset, as the CLI writes it (results kept in a temporary store)."""
        return estimate_with_runner(self, dataset, PACKAGES)


def make_estimator(model: str | Path, mode: str = "coded", label: str = "",
                   allow_trained_clips: bool = False) -> HybridCoder:
    """The registry's factory: ``make_estimator(model="models/hybrid-demo", mode="coded")``."""
    return HybridCoder(str(model), mode, label=label, allow_trained_clips=allow_trained_clips)
