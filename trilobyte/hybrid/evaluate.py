"""``python -m trilobyte.hybrid.evaluate [--model DIR] --dataset D --split test``: the hybrid coder's rates.

Without ``--model``, the model installed with the package (:mod:`trilobyte.hybrid.defaults`).

Each file is encoded, decoded and compared bit for bit ("coded", the default) or only encoded
(``--mode ideal``); results go to the shared results store like every other method's.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trilobyte.core.cli import EXIT_USAGE, add_common_args, parse_shard, run_main, setup_logging
from trilobyte.core.datasets import DEMO_NATIVE, Dataset
from trilobyte.core.leakage import LeakageError
from trilobyte.core.protocol import RateResult
from trilobyte.core.results import ResultStore
from trilobyte.core.runner import run_file_coders
from trilobyte.core.table import Col, failed, where
from trilobyte.hybrid.defaults import resolve_model
from trilobyte.hybrid.method import MODES, PACKAGES, HybridCoder
from trilobyte.hybrid.model import ModelError

log = logging.getLogger("trilobyte.hybrid")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trilobyte.hybrid.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", default=None,
                        help="hybrid model folder (repeatable; default: the model installed with the package)")
    parser.add_argument("--mode", choices=MODES, default="coded", help="coded (default) or ideal (encode only)")
    parser.add_argument(
        "--allow-trained-clips",
        action="store_true",
        help="evaluate even clips the model was trained on (the result is marked); refused otherwise",
    )
    add_common_args(parser, default_datasets=DEMO_NATIVE)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        models = args.model or [resolve_model(None)]
        coders = [HybridCoder(str(m), args.mode, allow_trained_clips=args.allow_trained_clips) for m in models]
        for c in coders:
            c.model  # noqa: B018 - load now, so a bad folder is a usage error
    except (ModelError, ValueError) as err:
        parser.error(str(err))
    shard = parse_shard(parser, args)
    store = ResultStore(args.out)

    def run_one(dataset: Dataset) -> list[RateResult]:
        for c in coders:
            c.check_dataset(dataset)
        return run_file_coders(coders, dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                               progress=not args.no_progress, packages=PACKAGES)

    try:
        return run_main(args, args.dataset or list(DEMO_NATIVE), run_one, COLUMNS,
                        f"\nevery file decoded and compared bit-exactly ({args.mode}); results in {args.out}")
    except LeakageError as err:
        log.error("%s", err)
        return EXIT_USAGE  # a misuse, as trilobyte.gpt2.estimate refuses it


COLUMNS = (Col("dataset", where), Col("config", lambda r: r.config_name), Col("mode", lambda r: r.mode),
           Col("rate", lambda r: r.rate, ".4f"), Col("failed", failed, "d"))

if __name__ == "__main__":
    sys.exit(main())
