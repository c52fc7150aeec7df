"""The development corpus's manifest: what each clip is, where it came from, and which split holds it.

The corpus (built by ``python -m trilobyte.core.devcorpus``) lives in ``<data root>/devcorpus``: one
FLAC file per clip under ``clips/<source>/<group>/`` and ``manifest.json`` beside it. Splits are
decided once, at build time, per group (a whole package, or one recording set of a large one), so a
recording is never in two splits, and every ``dev-*`` dataset reads the same assignment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MANIFEST = "manifest.json"
CLIPS = "clips"
SUBDIR = "devcorpus"
BUILD_COMMAND = "python -m trilobyte.core.devcorpus --data-root DIR"
KINDS = ("speech", "music", "drums", "notes", "sfx", "field")  # each clip has exactly one
VIEWS = ("24bit", "stereo", "all")  # datasets across kinds, by a property of the clip
SPLITS = ("train", "valid", "test")
COPIES_RULE = "one clip per distinct samples (pcm_sha256): the one in the earliest split, then the first path"
FORMAT_VERSION = 1


class ManifestError(ValueError):
    """A missing or malformed manifest; the message says how to build the corpus."""


@dataclass(frozen=True)
class ClipEntry:
    """One clip of the corpus, as the manifest lists it."""

    path: str  # relative to the clips folder: <source>/<group>/<name>.flac
    source: str
    package: str
    version: str
    licence: str
    kind: str
    group: str  # <source>/<group>: the unit of the split
    split: str
    sample_rate: int
    bit_depth: int
    channels: int
    num_samples: int
    pcm_sha256: str
    origin: str  # the file (or bank sample) inside the package it came from

    @property
    def seconds(self) -> float:
        return self.num_samples / self.sample_rate

    def in_view(self, name: str) -> bool:
        """Whether this clip belongs to the kind or view ``name``."""
        if name == "all":
            return True
        if name == "24bit":
            return self.bit_depth == 24
        if name == "stereo":
            return self.channels == 2
        return self.kind == name


def pcm_sha256(samples: np.ndarray) -> str:
    """SHA-256 of the exact samples as interleaved little-endian int32 (shape ``(n, channels)``)."""
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<i4").tobytes()).hexdigest()


def corpus_dir(data_root: Path) -> Path:
    return data_root / SUBDIR


def read_manifest(folder: Path) -> tuple[dict, list[ClipEntry]]:
    """The manifest's header (sources, settings) and its clips; a clear error when there is none."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError(
            f"development corpus not found: expected {path}; build it with `{BUILD_COMMAND}`"
            f" (DIR is the data root; the corpus goes into DIR/{SUBDIR})"
        )
    try:
        data = json.loads(path.read_text())
        clips = [ClipEntry(**c) for c in data["clips"]]
    except (ValueError, KeyError, TypeError) as err:
        raise ManifestError(f"{path}: not a development-corpus manifest ({err}); rebuild it") from err
    if data.get("format") != FORMAT_VERSION:
        raise ManifestError(f"{path}: manifest format {data.get('format')!r}, expected {FORMAT_VERSION}; rebuild it")
    header = {k: v for k, v in data.items() if k != "clips"}
    return header, clips


def write_manifest(folder: Path, header: dict, clips: list[ClipEntry]) -> Path:
    """Write the manifest atomically (a temporary file renamed over the old one)."""
    path = folder / MANIFEST
    body = {"format": FORMAT_VERSION, **header, "clips": [vars(c) for c in sorted(clips, key=lambda c: c.path)]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n")
    tmp.replace(path)
    return path


def assign_by_duration(groups: dict[str, float], valid_fraction: float, test_fraction: float) -> dict[str, str]:
    """Map groups to test/valid/train: in the order of their names' hashes, test takes groups until it holds
    ``test_fraction`` of the seconds, then valid until ``valid_fraction``, and train the rest.

    Deterministic, disjoint, and independent of the order groups are listed in; with three or more
    groups every split gets at least one.
    """
    order = sorted(groups, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    if len(order) < 3:
        raise ManifestError(f"cannot split {len(order)} group(s) into train, valid and test: {order}")
    total = sum(groups.values())
    split_of: dict[str, str] = {}
    held = {"test": 0.0, "valid": 0.0}
    for index, group in enumerate(order):
        left = len(order) - index  # groups not yet placed, this one included
        if not held["test"] or (held["test"] < test_fraction * total and left > 2):
            split = "test"
        elif not held["valid"] or (held["valid"] < valid_fraction * total and left > 1):
            split = "valid"
        else:
            split = "train"
        held[split] = held.get(split, 0.0) + groups[group]
        split_of[group] = split
    return split_of


def summary(clips: list[ClipEntry]) -> dict[str, dict[str, float]]:
    """Hours per kind and view (rows) and split (columns, plus ``all``)."""
    table: dict[str, dict[str, float]] = {}
    for name in (*KINDS, *VIEWS):
        row = {s: 0.0 for s in (*SPLITS, "all")}
        for c in clips:
            if c.in_view(name):
                row[c.split] += c.seconds / 3600
                row["all"] += c.seconds / 3600
        table[name] = row
    return table
