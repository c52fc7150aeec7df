"""Which clips of a dataset a model was trained on, decided from its training record.

Training writes the sorted 64-bit keys of every file it trained on to ``training_clips.npy`` in the model
folder (a plain integer array, never a pickle) and names it in the record. A file's key is the hash of its
folder name, file name, length and sample rate: it does not depend on the dataset's name, split, data root
or evaluated depth, so a clip is recognised when the same files come back as a folder dataset, under
another split or converted to 8 bits. Two channels of one file share its key: a model trained on either
channel has seen the file. Models from before the clip list are judged by dataset name and split.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core.datasets import VARIANT, ClipRef, Dataset

CLIPS_FILE = "training_clips.npy"
KEY_RULE = "sha256('<folder>/<file>|<samples>|<sample rate>'), first 8 bytes, big-endian, sorted"
EVAL_SPLITS = ("test", "all")  # training on these sees clips a test-split evaluation would use


class LeakageError(ValueError):
    """A model would be evaluated on clips it was trained on, or its record cannot tell."""


def clip_key(ref: ClipRef) -> int:
    """The 64-bit key of the file behind a clip (the same for every channel of it)."""
    text = f"{ref.path.parent.name}/{ref.path.name}|{ref.num_samples}|{ref.sample_rate}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def clip_keys(datasets: Iterable[Dataset]) -> np.ndarray:
    """Sorted unique keys of the readable clips of the datasets."""
    keys = {clip_key(r) for ds in datasets for r in ds.refs if not r.error}
    return np.array(sorted(keys), dtype=np.uint64)


def save_training_clips(directory: Path | str, datasets: Iterable[Dataset]) -> dict[str, Any]:
    """Write the training clips' keys into the model folder; returns the record's entry for them."""
    keys = clip_keys(datasets)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (CLIPS_FILE + ".tmp.npy")
    np.save(tmp, keys, allow_pickle=False)
    tmp.replace(directory / CLIPS_FILE)
    return {"file": CLIPS_FILE, "count": int(keys.size), "key": KEY_RULE}


@dataclass(frozen=True)
class Overlap:
    """The clips of ``dataset`` (by id) a model was trained on; ``exact`` False when judged by names."""

    dataset: str
    split: str
    clips: tuple[str, ...]
    evaluated: int
    exact: bool

    def __bool__(self) -> bool:
        return bool(self.clips)

    def message(self) -> str:
        how = "its list of training clips" if self.exact else "its training record's dataset names and splits"
        return (
            f"the model was trained on {len(self.clips)} of the {self.evaluated} clips of {self.dataset}"
            f" (split {self.split}), e.g. {self.clips[0]} (decided from {how})"
        )

    def extra(self) -> dict[str, Any]:
        """What a result evaluated anyway records about it."""
        return {
            "trained_on_evaluated_clips": bool(self.clips),
            "trained_clips_evaluated": len(self.clips),
            "trained_clips_check": "clip list" if self.exact else "dataset names and splits",
        }


def base_name(name: str) -> str:
    """A dataset's name without the quick-run and depth suffixes (``-first10``, ``-mulaw8``)."""
    name = re.sub(r"-first\d+$", "", name)
    variant = VARIANT.match(name)
    return variant["base"] if variant else name


def trained_clips(record: Mapping[str, Any], dataset: Dataset, model_dir: Path | str | None = None) -> Overlap:
    """The clips of ``dataset`` that the model whose training record is ``record`` was trained on.

    With a clip list (``record["training_clips"]``, read from ``model_dir``) the answer is exact. Without
    one (older models), every clip counts as seen when a trained dataset has the same base name and the
    same split, or either split is ``all``. A record naming a clip list that is missing is an error.
    """
    refs = [r for r in dataset.refs if not r.error]
    entry = record.get("training_clips")
    if entry:
        path = Path(model_dir or ".") / entry["file"]
        if not path.exists():
            raise LeakageError(f"{path}: the model's list of training clips is missing; it cannot tell what it saw")
        keys = np.load(path, allow_pickle=False)
        wanted = np.array([clip_key(r) for r in refs], dtype=np.uint64)
        seen = np.isin(wanted, keys) if wanted.size else np.zeros(0, dtype=bool)
        clips = tuple(r.id for r, s in zip(refs, seen, strict=True) if s)
        return Overlap(dataset.name, dataset.split, clips, len(refs), exact=True)
    for trained in record.get("datasets", []):
        same = trained.get("fingerprint") == dataset.fingerprint or (
            base_name(str(trained.get("name", ""))) == base_name(dataset.name)
            and (trained.get("split") == dataset.split or "all" in (trained.get("split"), dataset.split))
        )
        if same:
            return Overlap(dataset.name, dataset.split, tuple(r.id for r in refs), len(refs), exact=False)
    return Overlap(dataset.name, dataset.split, (), len(refs), exact=False)


def check_evaluation(
    record: Mapping[str, Any], dataset: Dataset, model_dir: Path | str | None, allow: bool
) -> dict[str, Any]:
    """Refuse (LeakageError) evaluating a model on clips it was trained on unless ``allow``; returns the
    result's ``extra`` entries that say whether it was."""
    overlap = trained_clips(record, dataset, model_dir)
    if overlap and not allow:
        raise LeakageError(
            overlap.message() + "; evaluate another split, or pass --allow-trained-clips to evaluate anyway"
            " (the result is then marked)"
        )
    return overlap.extra()
