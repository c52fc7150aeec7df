"""The loop every per-file method runs through: clips loaded once, coders run on each, rows kept as they finish.

One bad file is one failed row, whatever went wrong in reading or coding it; the run always finishes and
writes its results. Results resume file by file (:class:`trilobyte.core.results.ResultSession`), run in
worker processes, shard, and survive Ctrl-C (finished files are kept).

A coder may define ``finish(result) -> RateResult`` (model sizes, histograms, totals added once all rows
are in) and ``result_extra() -> dict``; every result declares its report fields (:mod:`trilobyte.core.registry`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from tempfile import TemporaryDirectory
from typing import Any

from tqdm import tqdm

from trilobyte.core.datasets import ClipRef, Dataset
from trilobyte.core.environment import environment
from trilobyte.core.protocol import FileCoder, FileRate, RateResult
from trilobyte.core.registry import report_fields
from trilobyte.core.results import ResultSession, ResultStore, Shard

log = logging.getLogger("trilobyte")
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


def failure_text(err: BaseException) -> str:
    """A failed row's message: the exception's type and what it says."""
    return f"{type(err).__name__}: {err}"


def code_ref(
    dataset: Dataset, coders: Sequence[FileCoder], ref: ClipRef, wanted: Sequence[int]
) -> list[FileRate]:
    """Load one clip once and run each wanted coder on it; any failure becomes a row, never a crash."""
    try:
        clip = dataset.load(ref)
    except Exception as err:  # any reader failure is this file's failure, whatever its type
        log.debug("reading %s failed", ref.id, exc_info=True)
        return [FileRate.failed(ref.id, failure_text(err)) for _ in wanted]
    rows = []
    for index in wanted:
        start = time.perf_counter()
        try:
            row = coders[index].code_file(clip)
        except Exception as err:
            log.debug("coding %s failed", ref.id, exc_info=True)
            row = FileRate.failed(ref.id, failure_text(err), raw_bits=clip.raw_bits)
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
    session: ResultSession


def finish_result(coder: Any, result: RateResult) -> RateResult:
    """The result with the coder's own additions (``finish``) and its report fields."""
    finish = getattr(coder, "finish", None)
    if callable(finish):
        result = finish(result)
    result.report = report_fields(coder)
    return result


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
        session = ResultSession(store, dataset.key, dataset.fingerprint, coder.name, coder.config_name(), shard,
                                overwrite)
        if session.found is not None:
            results[index] = session.found
        else:
            pending[index] = _Job(coder, session)
    if not pending:
        log.info("%s: all %d results exist (use --overwrite to recompute)", dataset.key, len(coders))
        return [results[i] for i in range(len(coders))]

    positions = [i for i in range(len(dataset.refs)) if shard is None or i % shard.count == shard.index]
    work: list[tuple[int, list[int]]] = []
    for position in positions:
        ref_id = dataset.refs[position].id
        wanted = [i for i, job in pending.items() if job.session.needs(ref_id)]
        if wanted:
            work.append((position, wanted))
    resumed = sum(len(j.session.done) for j in pending.values())
    if resumed:
        log.info("%s: resuming, %d file results already done", dataset.key, resumed)

    for job in pending.values():
        job.session.start()
    start = time.perf_counter()
    bar = tqdm(total=len(work), desc=f"{dataset.key}", unit="file", disable=not progress, leave=False)

    def record(position: int, rows: list[FileRate], wanted: list[int]) -> None:
        for index, row in zip(wanted, rows, strict=True):
            job = pending[index]
            job.session.append(row)
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
        done = sum(1 for j in pending.values() for r in j.session.done.values() if r.ok)
        log.warning(
            "interrupted: %d finished file results are kept; run the same command again to resume", done
        )
        raise
    finally:
        bar.close()
        for job in pending.values():
            job.session.close()
    wall = time.perf_counter() - start

    env = environment(packages, **(extra_environment or {}))
    ids = [dataset.refs[p].id for p in positions]
    for index, job in pending.items():
        coder, done = job.coder, job.session.done
        result = RateResult.for_dataset(
            dataset,
            method=coder.name,
            config_name=coder.config_name(),
            config=coder.config(),
            mode=coder.mode,
            files=[done[i] for i in ids if i in done],
            wall_seconds=wall,
            environment=env,
            shard=str(shard) if shard else None,
        )
        extra = getattr(coder, "result_extra", None)
        result.extra = extra() if callable(extra) else {}
        result = finish_result(coder, result)
        job.session.write(result)
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


def estimate_with_runner(coder: FileCoder, dataset: Dataset, packages: tuple[str, ...] = (),
                         extra_environment: dict | None = None) -> RateResult:
    """A per-file coder's rate on a dataset, as its CLI would write it, without keeping it on disk."""
    check = getattr(coder, "check_dataset", None)
    if callable(check):
        check(dataset)
    with TemporaryDirectory() as tmp:
        return run_file_coders([coder], dataset, ResultStore(tmp), progress=False,
                               packages=packages or tuple(getattr(coder, "packages", ())),
                               extra_environment=extra_environment)[0]
