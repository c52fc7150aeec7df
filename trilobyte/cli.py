"""The flags every method's CLI shares, and the runner loop that codes files with resume and shards.

Shared flags mean the same everywhere: ``--dataset --split --bit-depth --limit --out --jobs --device
--seed --overwrite`` (plus ``--data-root``, ``--conversion``, ``--shard``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from trilobyte import audio
from trilobyte.datasets import DEMO_NATIVE, SPLITS, ClipRef, Dataset, DatasetError, get_dataset
from trilobyte.protocol import FileCoder, FileRate, RateResult, environment
from trilobyte.results import PartialLog, ResultError, ResultStore, Shard

log = logging.getLogger("trilobyte")
DEFAULT_OUT = Path("reports/results")


def add_common_args(parser: argparse.ArgumentParser, default_datasets: Sequence[str] = DEMO_NATIVE) -> None:
    """Add the shared flags to a method's argument parser."""
    group = parser.add_argument_group("data and results (shared by every method)")
    group.add_argument(
        "--dataset",
        action="append",
        metavar="NAME_OR_FOLDER",
        help="a registered dataset or a folder of WAV/FLAC/AIFF files; repeat for several"
        f" (default: {' '.join(default_datasets)})",
    )
    group.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder holding the paper's datasets (default: $TRILOBYTE_DATA or ~/trilobyte-data)",
    )
    group.add_argument(
        "--split", choices=SPLITS, default="all", help="which split to evaluate (default: all)"
    )
    group.add_argument(
        "--bit-depth",
        default="native",
        choices=["native", "8", "16", "24"],
        help="evaluated bit depth; 8-bit uses --conversion (default: native)",
    )
    group.add_argument(
        "--conversion",
        choices=audio.CONVERSIONS,
        default=None,
        help="integer conversion to a lower depth (default: mulaw for 8-bit, else linear)",
    )
    group.add_argument("--limit", type=int, default=None, help="only the first N clips of each dataset")
    group.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default: %(default)s)")
    group.add_argument("--jobs", type=int, default=1, help="worker processes (default: 1)")
    group.add_argument(
        "--device", default="cpu", help="compute device for model-based methods (default: cpu)"
    )
    group.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    group.add_argument("--overwrite", action="store_true", help="recompute results that already exist")
    group.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="run only shard I of N (0-based) of each dataset's clips; 'auto' reads a SLURM array",
    )
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")
    group.add_argument("-v", "--verbose", action="store_true", help="debug messages")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )


def parse_bit_depth(text: str) -> int | None:
    return None if text in (None, "native") else int(text)


def datasets_from_args(args: argparse.Namespace, default: Sequence[str] = DEMO_NATIVE) -> list[Dataset]:
    """The datasets the flags name, at the flags' depth, split and limit."""
    names = args.dataset or list(default)
    return [
        get_dataset(
            name,
            root=args.data_root,
            bit_depth=parse_bit_depth(args.bit_depth),
            conversion=args.conversion,
            split=args.split,
            limit=args.limit,
        )
        for name in names
    ]


# -- The runner ------------------------------------------------------------------------------------

_worker: dict = {}


def _init_worker(dataset: Dataset, coders: list[FileCoder]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt means
    _worker["dataset"], _worker["coders"] = dataset, coders


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[dict[str, bool]]:
    """Turn the first Ctrl-C into a flag the runner checks between files.

    An interrupt raised inside a C library's callback (libFLAC's, say) would otherwise surface as a
    failed file; with the flag, the file in progress is dropped and finished files are kept.
    A second Ctrl-C interrupts at once.
    """
    state = {"interrupted": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame: object) -> None:
        if state["interrupted"]:
            raise KeyboardInterrupt
        state["interrupted"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def code_ref(
    dataset: Dataset, coders: Sequence[FileCoder], ref: ClipRef, wanted: Sequence[int]
) -> list[FileRate]:
    """Load one clip once and run each wanted coder on it; a failure becomes a row, never a crash."""
    try:
        clip = dataset.load(ref)
    except (audio.AudioError, DatasetError, OSError) as err:
        return [FileRate.failed(ref.id, f"{type(err).__name__}: {err}") for _ in wanted]
    rows = []
    for index in wanted:
        start = time.perf_counter()
        try:
            row = coders[index].code_file(clip)
        except Exception as err:
            log.debug("coding %s failed", ref.id, exc_info=True)
            row = FileRate.failed(ref.id, f"{type(err).__name__}: {err}", raw_bits=clip.raw_bits)
        if row.ok and not row.seconds:
            row.seconds = time.perf_counter() - start
        rows.append(row)
    return rows


def _code_in_worker(position: int, wanted: list[int]) -> tuple[int, list[FileRate]]:
    dataset, coders = _worker["dataset"], _worker["coders"]
    return position, code_ref(dataset, coders, dataset.refs[position], wanted)


@dataclass
class _Job:
    coder: FileCoder
    done: dict[str, FileRate]
    partial: PartialLog | None = None


def run_file_coders(
    coders: Sequence[FileCoder],
    dataset: Dataset,
    store: ResultStore,
    *,
    jobs: int = 1,
    shard: Shard | None = None,
    overwrite: bool = False,
    progress: bool = True,
    packages: tuple[str, ...] = (),
    extra_environment: dict | None = None,
) -> list[RateResult]:
    """Run several per-file coders over a dataset, each clip loaded once; resumable, shardable."""
    results: dict[int, RateResult] = {}
    pending: dict[int, _Job] = {}
    for index, coder in enumerate(coders):
        found = None if overwrite else store.find(dataset.key, coder.name, coder.config_name(), shard)
        if found is not None:
            if found.dataset_fingerprint != dataset.fingerprint:
                raise ResultError(
                    f"{store.json_path(dataset.key, coder.name, coder.config_name(), shard)} was computed on"
                    f" other files (fingerprint {found.dataset_fingerprint} != {dataset.fingerprint});"
                    " use --overwrite to replace it"
                )
            results[index] = found
            continue
        if overwrite:
            store.remove(dataset.key, coder.name, coder.config_name(), shard)
        partial_path = store.partial_path(dataset.key, coder.name, coder.config_name(), shard)
        pending[index] = _Job(coder, store.read_partial(partial_path, dataset.fingerprint))
    if not pending:
        log.info("%s: all %d results exist (use --overwrite to recompute)", dataset.key, len(coders))
        return [results[i] for i in range(len(coders))]

    positions = [i for i in range(len(dataset.refs)) if shard is None or i % shard.count == shard.index]
    work: list[tuple[int, list[int]]] = []
    for position in positions:
        ref_id = dataset.refs[position].id
        wanted = [i for i, job in pending.items() if not (ref_id in job.done and job.done[ref_id].ok)]
        if wanted:
            work.append((position, wanted))
    resumed = sum(len(j.done) for j in pending.values())
    if resumed:
        log.info("%s: resuming, %d file results already done", dataset.key, resumed)

    for job in pending.values():
        job.partial = store.open_partial(
            store.partial_path(dataset.key, job.coder.name, job.coder.config_name(), shard),
            dataset.fingerprint,
        )
    start = time.perf_counter()
    bar = tqdm(total=len(work), desc=f"{dataset.key}", unit="file", disable=not progress, leave=False)

    def record(position: int, rows: list[FileRate], wanted: list[int]) -> None:
        for index, row in zip(wanted, rows, strict=True):
            job = pending[index]
            job.done[row.id] = row
            job.partial.append(row)
            if not row.ok:
                log.warning("%s [%s]: %s", row.id, job.coder.config_name(), row.error)
        bar.update(1)

    try:
        with deferred_interrupt() as state:
            if jobs <= 1 or len(work) <= 1:
                for position, wanted in work:
                    rows = code_ref(dataset, coders, dataset.refs[position], wanted)
                    if state["interrupted"]:
                        raise KeyboardInterrupt  # the file in progress may have been cut short: drop it
                    record(position, rows, wanted)
            else:
                _run_pool(dataset, list(coders), work, jobs, record, state)
    except KeyboardInterrupt:
        bar.close()
        done = sum(1 for j in pending.values() for r in j.done.values() if r.ok)
        log.warning(
            "interrupted: %d finished file results are kept; run the same command again to resume", done
        )
        raise
    finally:
        bar.close()
        for job in pending.values():
            if job.partial:
                job.partial.close()
    wall = time.perf_counter() - start

    env = environment(packages, **(extra_environment or {}))
    for index, job in pending.items():
        ids = [dataset.refs[p].id for p in positions]
        coder = job.coder
        result = RateResult.for_dataset(
            dataset,
            method=coder.name,
            config_name=coder.config_name(),
            config=coder.config(),
            mode=coder.mode,
            files=[job.done[i] for i in ids if i in job.done],
            wall_seconds=wall,
            environment=env,
            shard=str(shard) if shard else None,
        )
        extra = getattr(coder, "result_extra", None)
        result.extra = extra() if callable(extra) else {}
        store.write(result, dataset.key)
        store.partial_path(dataset.key, coder.name, coder.config_name(), shard).unlink(missing_ok=True)
        results[index] = result
    return [results[i] for i in range(len(coders))]


def _run_pool(
    dataset: Dataset,
    coders: list[FileCoder],
    work: list[tuple[int, list[int]]],
    jobs: int,
    record: Callable[[int, list[FileRate], list[int]], None],
    state: dict[str, bool],
) -> None:
    """Keep at most 2 x jobs tasks in flight so an interrupt loses little and memory stays flat."""
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(dataset, coders)) as pool:
        queue = iter(work)
        in_flight: dict[Future, list[int]] = {}
        try:
            while True:
                while len(in_flight) < 2 * jobs:
                    item = next(queue, None)
                    if item is None:
                        break
                    in_flight[pool.submit(_code_in_worker, *item)] = item[1]
                if not in_flight:
                    break
                finished, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
                if state["interrupted"]:
                    raise KeyboardInterrupt
                for future in finished:
                    wanted = in_flight.pop(future)
                    position, rows = future.result()
                    record(position, rows, wanted)
        except BaseException:
            for future in in_flight:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_over_datasets(
    args: argparse.Namespace,
    names: Sequence[str],
    run_one: Callable[[Dataset], list[RateResult]],
    errors: tuple[type[Exception], ...] = (),
) -> tuple[list[RateResult], int]:
    """Run a method on each named dataset in turn; a dataset that fails is reported and the next one runs.

    Returns the results and an exit status (0, or 1 if any dataset failed). A failure to write results
    (a full disk, an unwritable ``--out``) stops at once: finished results stay where they are.
    KeyboardInterrupt propagates, so the caller can print what finished.
    """
    results: list[RateResult] = []
    status = 0
    for name in names:
        try:
            (dataset,) = datasets_from_args(argparse.Namespace(**{**vars(args), "dataset": [name]}))
            log.info("%s: %d clips, %.1f min of audio", dataset.key, len(dataset), dataset.total_seconds() / 60)
            results += run_one(dataset)
        except (DatasetError, ResultError, *errors) as err:
            log.error("%s", err)
            status = 1
        except OSError as err:
            log.error("cannot write results under %s: %s", args.out, err)
            return results, 1
    return results, status
