"""``python -m trilobyte.hybrid.evaluate --model DIR --dataset D --split test``: the hybrid coder's rates.

Each file is encoded, decoded and compared bit for bit ("coded", the default) or only encoded
(``--mode ideal``); results go to the shared results store like every other method's.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trilobyte.cli import add_common_args, run_file_coders, run_over_datasets, setup_logging
from trilobyte.datasets import DEMO_NATIVE, Dataset
from trilobyte.hybrid.method import MODES, PACKAGES, HybridCoder, LeakageError, check_leakage
from trilobyte.hybrid.model import ModelError
from trilobyte.protocol import RateResult
from trilobyte.results import ResultStore, Shard

log = logging.getLogger("trilobyte.hybrid")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trilobyte.hybrid.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", required=True, help="hybrid model folder (repeatable)")
    parser.add_argument("--mode", choices=MODES, default="coded", help="coded (default) or ideal (encode only)")
    add_common_args(parser, default_datasets=DEMO_NATIVE)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        coders = [HybridCoder(str(m), args.mode) for m in args.model]
        for c in coders:
            c.model  # noqa: B018 - load now, so a bad folder is a usage error
        shard = Shard.parse(args.shard)
    except (ModelError, ValueError) as err:
        parser.error(str(err))
    store = ResultStore(args.out)

    def run_one(dataset: Dataset) -> list[RateResult]:
        for c in coders:
            check_leakage(c.model, dataset)
        results = run_file_coders(coders, dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                                  progress=not args.no_progress, packages=PACKAGES)
        for r, c in zip(results, coders, strict=True):
            failed = f", {len(r.failures)} failed" if r.failures else ""
            rate = f"{r.rate:.4f}" if r.rate else "-"
            print(f"{dataset.key:28s} {c.config_name():40s} {r.mode:6s} rate {rate}{failed}")
        return results

    try:
        results, status = run_over_datasets(args, args.dataset or list(DEMO_NATIVE), run_one, (LeakageError,))
    except KeyboardInterrupt:
        return 130
    if any(r.failures for r in results):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
