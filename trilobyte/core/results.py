"""The results store: ``<root>/<dataset>/<method>/<config>.json`` plus a per-file ``.csv``.

Writes are atomic (temporary file, fsync, rename), so an interrupted run never leaves half a result.
While a result is being computed, each finished file is appended to ``<config>.partial.jsonl``; a
re-run reads it back and codes only the files that are missing. Sharded runs write
``<config>.shard-I-of-N.json``; :func:`merge_shards` joins them into one result.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from trilobyte.core.protocol import FileRate, RateResult

log = logging.getLogger(__name__)
SAFE_NAME = re.compile(r"[^A-Za-z0-9._+=,-]+")
CSV_FIELDS = (
    "id",
    "raw_bits",
    "compressed_bits",
    "container_bits",
    "rate",
    "seconds",
    "audio_seconds",
    "num_samples",
    "channels",
    "sample_rate",
    "bit_depth",
    "error",
)


class ResultError(RuntimeError):
    """A stored result that cannot be used as asked (stale fingerprint, missing shards, ...)."""


def safe_name(text: str) -> str:
    return SAFE_NAME.sub("_", text).strip("_") or "default"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based): clip i belongs to shard i mod count."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def label(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    @classmethod
    def parse(cls, text: str | None) -> Shard | None:
        """``"i/n"`` (0 <= i < n), or ``"auto"`` to read a SLURM job array's task id and count."""
        if text in (None, "", "0/1"):
            return None
        if text == "auto":
            try:
                task = int(os.environ["SLURM_ARRAY_TASK_ID"]) - int(
                    os.environ.get("SLURM_ARRAY_TASK_MIN", "0")
                )
                count = int(os.environ["SLURM_ARRAY_TASK_COUNT"])
            except KeyError as err:
                raise ValueError(f"--shard auto needs a SLURM job array ({err.args[0]} is not set)") from err
            return cls(task, count)
        match = re.fullmatch(r"(\d+)/(\d+)", text)
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise ValueError(f"--shard must look like i/n with 0 <= i < n, or 'auto'; got {text!r}")
        return cls(int(match[1]), int(match[2]))


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new, never a part (also on a full disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def csv_path(json_path: Path) -> Path:
    """The per-file CSV beside a result's JSON."""
    return json_path.with_name(json_path.name.removesuffix(".json") + ".csv")


def rows_csv(result: RateResult) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for f in result.files:
        writer.writerow({**asdict(f), "rate": f.rate})
    return buffer.getvalue()


class ResultStore:
    """Results of every method on every dataset under one folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def base(self, dataset_key: str, method: str, config_name: str, shard: Shard | None = None) -> Path:
        stem = safe_name(config_name) + (f".{shard.label}" if shard else "")
        return self.root / safe_name(dataset_key) / safe_name(method) / stem

    def json_path(self, dataset_key: str, method: str, config_name: str, shard: Shard | None = None) -> Path:
        base = self.base(dataset_key, method, config_name, shard)
        return base.with_name(base.name + ".json")  # not with_suffix: names may hold dots

    def partial_path(
        self, dataset_key: str, method: str, config_name: str, shard: Shard | None = None
    ) -> Path:
        base = self.base(dataset_key, method, config_name, shard)
        return base.with_name(base.name + ".partial.jsonl")

    # -- finished results

    def write(self, result: RateResult, dataset_key: str) -> Path:
        shard = Shard.parse(result.shard) if result.shard else None
        path = self.json_path(dataset_key, result.method, result.config_name, shard)
        atomic_write_text(csv_path(path), rows_csv(result))
        atomic_write_text(path, json.dumps(result.to_dict(), indent=1, sort_keys=False) + "\n")
        return path

    def load(self, path: Path) -> RateResult:
        try:
            return RateResult.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise ResultError(f"{path}: not a readable result ({err})") from err

    def find(
        self, dataset_key: str, method: str, config_name: str, shard: Shard | None = None
    ) -> RateResult | None:
        path = self.json_path(dataset_key, method, config_name, shard)
        return self.load(path) if path.exists() else None

    def remove(self, dataset_key: str, method: str, config_name: str, shard: Shard | None = None) -> None:
        for path in (
            self.json_path(dataset_key, method, config_name, shard),
            csv_path(self.json_path(dataset_key, method, config_name, shard)),
            self.partial_path(dataset_key, method, config_name, shard),
        ):
            path.unlink(missing_ok=True)

    def all_results(self) -> list[tuple[Path, RateResult]]:
        """Every finished, unsharded result under the root."""
        found = []
        for path in sorted(self.root.glob("*/*/*.json")):
            if ".shard-" in path.name:
                continue
            found.append((path, self.load(path)))
        return found

    # -- work in progress

    def read_partial(self, path: Path, fingerprint: str) -> dict[str, FileRate]:
        """Rows already finished for this dataset fingerprint (a torn last line is ignored)."""
        if not path.exists():
            return {}
        rows: dict[str, FileRate] = {}
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s: ignoring an unfinished line %d", path, number + 1)
                    continue
                if number == 0:
                    if record.get("fingerprint") != fingerprint:
                        raise ResultError(
                            f"{path}: unfinished work for other files (fingerprint"
                            f" {record.get('fingerprint')} != {fingerprint}); delete it or use --overwrite"
                        )
                    continue
                row = FileRate(**record)
                rows[row.id] = row
        return rows

    def open_partial(self, path: Path, fingerprint: str) -> PartialLog:
        return PartialLog(path, fingerprint)


class ResultSession:
    """One result in the making on one dataset: found finished, or resumed from its partial log, or new.

    ``found`` is the finished result (checked against the dataset's fingerprint) unless ``overwrite``;
    otherwise ``done`` holds the rows a previous, interrupted run finished. ``start()`` opens the partial
    log, ``append(row)`` records each finished row at once, ``write(result)`` stores the result and
    removes the log, ``close()`` closes the log (a later run resumes from it).
    """

    def __init__(self, store: ResultStore, dataset_key: str, fingerprint: str, method: str, config_name: str,
                 shard: Shard | None = None, overwrite: bool = False) -> None:
        self.store, self.dataset_key, self.fingerprint = store, dataset_key, fingerprint
        self.method, self.config_name, self.shard = method, config_name, shard
        self.partial_path = store.partial_path(dataset_key, method, config_name, shard)
        self.found: RateResult | None = None
        if overwrite:
            store.remove(dataset_key, method, config_name, shard)
        else:
            self.found = store.find(dataset_key, method, config_name, shard)
        if self.found is not None and self.found.dataset_fingerprint != fingerprint:
            raise ResultError(
                f"{store.json_path(dataset_key, method, config_name, shard)} was computed on other files"
                f" (fingerprint {self.found.dataset_fingerprint} != {fingerprint}); use --overwrite to replace it"
            )
        self.done: dict[str, FileRate] = {} if self.found else store.read_partial(self.partial_path, fingerprint)
        self.log: PartialLog | None = None

    def needs(self, row_id: str) -> bool:
        """Whether a row is still to be computed (missing, or failed in an earlier run)."""
        return not (row_id in self.done and self.done[row_id].ok)

    def start(self) -> None:
        self.log = self.store.open_partial(self.partial_path, self.fingerprint)

    def append(self, row: FileRate) -> None:
        self.done[row.id] = row
        if self.log is None:
            self.start()
        self.log.append(row)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def write(self, result: RateResult) -> Path:
        """Store the finished result atomically; the partial log is no longer needed."""
        self.close()
        path = self.store.write(result, self.dataset_key)
        self.partial_path.unlink(missing_ok=True)
        return path


class PartialLog:
    """Append-only log of finished files; each line is flushed to disk before the next file starts."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists() or path.stat().st_size == 0
        self.path = path
        self.handle = path.open("a", encoding="utf-8")
        if fresh:
            self._write({"fingerprint": fingerprint})

    def _write(self, record: dict) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def append(self, row: FileRate) -> None:
        self._write(asdict(row))

    def close(self) -> None:
        self.handle.close()


def merge_shards(store: ResultStore, dataset_key: str, method: str, config_name: str) -> RateResult:
    """Join the shard results of one (dataset, method, config) into one result and write it."""
    pattern = f"{safe_name(config_name)}.shard-*-of-*.json"
    folder = store.base(dataset_key, method, config_name).parent
    paths = sorted(folder.glob(pattern))
    if not paths:
        raise ResultError(f"no shard results matching {folder / pattern}")
    parts = [store.load(p) for p in paths]
    shards = [Shard.parse(p.shard) for p in parts if p.shard]
    count = {s.count for s in shards}
    if len(count) != 1:
        raise ResultError(f"{folder}: shards of different counts {sorted(count)}")
    (n,) = count
    missing = sorted(set(range(n)) - {s.index for s in shards})
    if missing:
        raise ResultError(f"{folder}: shard(s) {missing} of {n} are not finished yet")
    fingerprints = {p.dataset_fingerprint for p in parts}
    if len(fingerprints) != 1:
        raise ResultError(f"{folder}: shards were run on different datasets {sorted(fingerprints)}")
    first = parts[0]
    files = sorted((f for p in parts for f in p.files), key=lambda f: f.id)
    merged = RateResult(
        **{
            **asdict(first),
            "files": files,
            "shard": None,
            "created": "",
            "wall_seconds": max(p.wall_seconds for p in parts),
        }
    )
    merged.files = files
    merged.extra = {**first.extra, "merged_shards": n}
    path = store.write(merged, dataset_key)
    log.info("merged %d shards into %s", n, path)
    return merged


def main(argv: list[str] | None = None) -> int:
    """``python -m trilobyte.core.results merge --out DIR``: merge every complete set of shards under DIR."""
    parser = argparse.ArgumentParser(prog="python -m trilobyte.core.results", description=main.__doc__)
    parser.add_argument("command", choices=["merge"])
    parser.add_argument("--out", default="reports/results", help="results folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store = ResultStore(args.out)
    groups = {}
    for path in store.root.glob("*/*/*.shard-*-of-*.json"):
        config = path.name.split(".shard-")[0]
        groups[(path.parent.parent.name, path.parent.name, config)] = True
    if not groups:
        log.error("no shard results under %s", store.root)
        return 1
    status = 0
    for dataset_key, method, config in sorted(groups):
        try:
            merged = merge_shards(store, dataset_key, method, config)
            log.info(
                "%s / %s / %s: rate %.4f over %d files",
                dataset_key,
                method,
                config,
                merged.rate or 0,
                len(merged.files),
            )
        except ResultError as err:
            log.error("%s", err)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
