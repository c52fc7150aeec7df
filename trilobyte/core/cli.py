"""The flags every method's CLI shares, and the runner loop that codes files with resume and shards.

Shared flags mean the same everywhere: ``--dataset --split --bit-depth --limit --out --jobs --device
--seed --overwrite`` (plus ``--data-root``, ``--conversion``, ``--shard``).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from trilobyte.core import audio
from trilobyte.core.datasets import DEMO_NATIVE, SPLITS, Dataset, DatasetError, get_dataset
from trilobyte.core.leakage import EVAL_SPLITS
from trilobyte.core.protocol import RateResult
from trilobyte.core.results import ResultError, Shard
from trilobyte.core.table import Col, format_table

log = logging.getLogger("trilobyte")
DEFAULT_OUT = Path("reports/results")


class ListMethods(argparse.Action):
    """``--list``: the registered methods, whether each can run here (and what the CLI adds), then exit 0."""

    def __init__(self, option_strings: Sequence[str], dest: str, listing: Callable[[], str] | None = None,
                 **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self.listing = listing

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from trilobyte.core.methods import format_list

        print(format_list())
        if self.listing is not None:
            print()
            print(self.listing())
        parser.exit(0)


def add_common_args(parser: argparse.ArgumentParser, default_datasets: Sequence[str] = DEMO_NATIVE,
                    listing: Callable[[], str] | None = None) -> None:
    """Add the shared flags to a method's argument parser (``listing``: more to print after ``--list``)."""
    parser.add_argument("--list", action=ListMethods, listing=listing,
                        help="list the registered methods and whether each can run here, then stop")
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


def parse_shard(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Shard | None:
    """``--shard`` as a Shard (a malformed one is a usage error: exit 2)."""
    try:
        return Shard.parse(args.shard)
    except ValueError as err:
        parser.error(str(err))


def add_allow_eval_split(group: argparse._ActionsContainer) -> None:
    """The training commands' ``--allow-eval-split`` flag (checked by :func:`check_training_args`)."""
    group.add_argument(
        "--allow-eval-split",
        action="store_true",
        help="allow training on the test split or on all clips (recorded in the model; its evaluations"
        " on clips it trained on are refused unless marked)",
    )


def check_training_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What every training command needs: datasets, an output folder, and no evaluation split unless asked."""
    if not args.dataset:
        parser.error("name at least one --dataset to train on")
    if args.out is None:
        parser.error("--out DIR (the model folder) is required")
    if args.split in EVAL_SPLITS and not args.allow_eval_split:
        parser.error(
            f"--split {args.split} trains on evaluation clips: pass --allow-eval-split to do so on purpose"
            " (it is recorded in the model)"
        )


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_over_datasets(
    args: argparse.Namespace,
    names: Sequence[str],
    run_one: Callable[[Dataset], list[RateResult]],
    errors: tuple[type[Exception], ...] = (),
    results: list[RateResult] | None = None,
) -> tuple[list[RateResult], int]:
    """Run a method on each named dataset in turn; a dataset that fails is reported and the next one runs.

    Returns the results and an exit status (0, or 1 if any dataset failed). A failure to write results
    (a full disk, an unwritable ``--out``) stops at once: finished results stay where they are.
    KeyboardInterrupt propagates; ``results``, when given, holds what finished before it.
    """
    results = [] if results is None else results
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


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_status(results: Sequence[RateResult], status: int = EXIT_OK) -> int:
    """The toolkit's convention: 0 when every file was coded (and verified), 1 when any file failed."""
    if status:
        return status
    return EXIT_FAILED if any(r.failures for r in results) else EXIT_OK


def run_main(
    args: argparse.Namespace,
    names: Sequence[str],
    run_one: Callable[[Dataset], list[RateResult]],
    table: Callable[[list[RateResult]], str] | Sequence[Col],
    footer: str = "",
    errors: tuple[type[Exception], ...] = (),
) -> int:
    """The shared end of every method's CLI: each dataset in turn, the table of what finished, the exit status.

    ``table``: the columns of the finished results' table (:func:`trilobyte.core.table.format_table`), or a
    function printing them otherwise.

    Ctrl-C prints the table of the finished results and exits 130 (a re-run resumes); a dataset that cannot
    be loaded, a stale result or an unwritable ``--out`` is reported and gives 1; so does any failed file.
    """
    if not callable(table):
        table = partial(format_table, columns=table)
    results: list[RateResult] = []
    try:
        results, status = run_over_datasets(args, names, run_one, errors, results)
    except KeyboardInterrupt:
        if results:
            print(table(results))
        return EXIT_INTERRUPTED
    if results:
        print(table(results))
        if footer:
            print(footer)
    status = exit_status(results, status)
    failed = [r for r in results if r.failures]
    if failed:
        count = sum(len(r.failures) for r in failed)
        log.error("%d file(s) failed in %d result(s); their rows say why (exit status 1)", count, len(failed))
    return status
