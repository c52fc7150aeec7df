"""The rate-estimator protocol and the result record: the benchmark's accounting rules, in one place.

1. ``raw_bits`` = samples x channels x bit depth of the evaluated audio (no header).
2. ``compressed_bits`` = everything a decoder needs besides the shared model; container extras
   (padding, seek tables, tags) are ``container_bits``, reported apart.
3. ``rate`` = raw_bits / compressed_bits; dataset totals are ratios of sums over files, with the
   per-file mean and a bootstrap 95% interval over files (over clips, for rows naming their clip) beside them.
4. ``mode`` "coded": a real bitstream was written, decoded and compared bit-exactly for every file;
   "ideal": the sum of -log2 p under a model.
5. Model bytes are reported, never amortized.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from trilobyte.core.datasets import AudioClip, Dataset

MODES = ("coded", "ideal")
SCHEMA_VERSION = 1
BOOTSTRAP_SAMPLES = 2000


class LosslessError(AssertionError):
    """A decoded stream differs from the audio that was encoded: the method is not lossless on this file."""


@dataclass
class FileRate:
    """One file's outcome. ``compressed_bits`` is None when the file failed (``error`` says why).

    A row that is part of a clip (an in-context chunk) names it in ``extra["clip"]``: the interval resamples clips.
    """

    id: str
    raw_bits: int
    compressed_bits: int | None
    container_bits: int = 0
    seconds: float = 0.0
    audio_seconds: float = 0.0
    num_samples: int = 0
    channels: int = 0
    sample_rate: int = 0
    bit_depth: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.compressed_bits is not None

    @property
    def rate(self) -> float | None:
        return self.raw_bits / self.compressed_bits if self.ok and self.compressed_bits else None

    @classmethod
    def failed(cls, clip_id: str, error: str, raw_bits: int = 0) -> FileRate:
        return cls(id=clip_id, raw_bits=raw_bits, compressed_bits=None, error=error)

    @classmethod
    def for_clip(cls, clip: AudioClip, compressed_bits: int, **kwargs: Any) -> FileRate:
        return cls(
            id=clip.id,
            raw_bits=clip.raw_bits,
            compressed_bits=compressed_bits,
            audio_seconds=clip.duration,
            num_samples=clip.num_samples,
            channels=clip.channels,
            sample_rate=clip.sample_rate,
            bit_depth=clip.bit_depth,
            **kwargs,
        )


def ratio_of_sums_interval(
    raw: np.ndarray, compressed: np.ndarray, seed: int = 0, groups: Sequence[Any] | None = None
) -> tuple[float, float] | None:
    """Bootstrap 95% interval of sum(raw) / sum(compressed), resampling files.

    With ``groups`` (one label per file), whole groups are resampled instead: e.g. all chunks of one clip
    together, since chunks of one recording are not independent draws.
    """
    if groups is not None:
        labels, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
        raw = np.bincount(inverse, weights=raw, minlength=len(labels))
        compressed = np.bincount(inverse, weights=compressed, minlength=len(labels))
    if len(raw) < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(raw), size=(BOOTSTRAP_SAMPLES, len(raw)))
    ratios = raw[idx].sum(axis=1) / compressed[idx].sum(axis=1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


@dataclass
class RateResult:
    """A method's rate on a dataset, with every file's row and what produced it."""

    method: str
    config_name: str
    config: dict[str, Any]
    dataset: str
    dataset_fingerprint: str
    split: str
    bit_depth: str
    conversion: str
    domain: str
    mode: str
    files: list[FileRate]
    wall_seconds: float = 0.0
    environment: dict[str, Any] = field(default_factory=dict)
    model_parameters: int | None = None
    model_bytes: int | None = None
    shard: str | None = None
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # column, label, family: see trilobyte.core.registry

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if not self.created:
            self.created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")

    @classmethod
    def for_dataset(cls, dataset: Dataset, *, method: str, config_name: str, config: dict[str, Any], mode: str,
                    files: list[FileRate], **kwargs: Any) -> RateResult:
        """A result whose dataset fields (name, fingerprint, split, depth, conversion, domain) come from ``dataset``."""
        return cls(method=method, config_name=config_name, config=config, dataset=dataset.name,
                   dataset_fingerprint=dataset.fingerprint, split=dataset.split, bit_depth=dataset.bit_depth_label,
                   conversion=dataset.conversion, domain=dataset.domain, mode=mode, files=files, **kwargs)

    @property
    def ok_files(self) -> list[FileRate]:
        return [f for f in self.files if f.ok]

    @property
    def failures(self) -> list[FileRate]:
        return [f for f in self.files if not f.ok]

    @property
    def raw_bits(self) -> int:
        return sum(f.raw_bits for f in self.ok_files)

    @property
    def compressed_bits(self) -> int:
        return sum(f.compressed_bits or 0 for f in self.ok_files)

    @property
    def container_bits(self) -> int:
        return sum(f.container_bits for f in self.ok_files)

    @property
    def rate(self) -> float | None:
        return self.raw_bits / self.compressed_bits if self.compressed_bits else None

    @property
    def rate_with_container(self) -> float | None:
        total = self.compressed_bits + self.container_bits
        return self.raw_bits / total if total else None

    @property
    def mean_file_rate(self) -> float | None:
        rates = [f.rate for f in self.ok_files if f.rate is not None]
        return float(np.mean(rates)) if rates else None

    @property
    def rate_interval(self) -> tuple[float, float] | None:
        ok = self.ok_files
        raw = np.array([f.raw_bits for f in ok], dtype=np.float64)
        comp = np.array([f.compressed_bits for f in ok], dtype=np.float64)
        # rows that name the clip they come from (in-context chunks) are resampled by clip
        groups = [f.extra["clip"] for f in ok] if ok and all("clip" in f.extra for f in ok) else None
        return ratio_of_sums_interval(raw, comp, groups=groups)

    @property
    def audio_seconds(self) -> float:
        return sum(f.audio_seconds for f in self.ok_files)

    @property
    def work_seconds(self) -> float:
        return sum(f.seconds for f in self.ok_files)

    @property
    def xrealtime(self) -> float | None:
        """Audio seconds per second of one worker's processing (encode + decode + check)."""
        return self.audio_seconds / self.work_seconds if self.work_seconds else None

    def summary(self) -> dict[str, Any]:
        interval = self.rate_interval
        return {
            "raw_bits": self.raw_bits,
            "compressed_bits": self.compressed_bits,
            "container_bits": self.container_bits,
            "rate": self.rate,
            "rate_with_container": self.rate_with_container,
            "mean_file_rate": self.mean_file_rate,
            "rate_ci95": list(interval) if interval else None,
            "files": len(self.files),
            "failed_files": len(self.failures),
            "audio_seconds": self.audio_seconds,
            "work_seconds": self.work_seconds,
            "xrealtime": self.xrealtime,
        }

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "files"}
        data["schema"] = SCHEMA_VERSION
        data["summary"] = self.summary()
        data["files"] = [asdict(f) for f in self.files]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RateResult:
        fields = {k: v for k, v in data.items() if k not in ("schema", "summary", "files")}
        return cls(files=[FileRate(**f) for f in data["files"]], **fields)


@runtime_checkable
class RateEstimator(Protocol):
    """A compression method: a name, its settings, and its rate on a dataset."""

    name: str

    def config(self) -> dict[str, Any]:
        """Every setting that changes the result (goes into the result and its file name)."""
        ...

    def config_name(self) -> str:
        """A short, file-name-safe label of ``config()``."""
        ...

    def estimate_rate(self, dataset: Dataset) -> RateResult: ...


class FileCoder(Protocol):
    """A method that codes each file on its own: the shared runner handles jobs, resume and shards."""

    name: str
    mode: str

    def config(self) -> dict[str, Any]: ...

    def config_name(self) -> str: ...

    def code_file(self, clip: AudioClip) -> FileRate:
        """Compress one clip (coded mode: decode it too and compare bit-exactly) and count its bits."""
        ...
