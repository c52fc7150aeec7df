"""``python -m trilobyte_shorten``: the Shorten-style coder over datasets, with the toolkit's shared flags.

It is the toolkit's CLI skeleton (``trilobyte.core.cli``) around one per-file coder: resume, shards,
``--list``, the results store and the exit-status convention come with it.
"""

from __future__ import annotations

import argparse
import sys

from trilobyte.core.cli import add_common_args, parse_shard, run_main, setup_logging
from trilobyte.core.datasets import DEMO_NATIVE, Dataset
from trilobyte.core.protocol import RateResult
from trilobyte.core.results import ResultStore
from trilobyte.core.runner import run_file_coders
from trilobyte.core.table import Col, failed
from trilobyte_shorten.coder import make_shorten

COLUMNS = (Col("dataset", lambda r: r.dataset), Col("split", lambda r: r.split), Col("config", lambda r: r.config_name),
           Col("files", lambda r: len(r.files), "d"), Col("failed", failed, "d"), Col("rate", lambda r: r.rate, ".3f"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trilobyte_shorten",
                                     description="Shorten-style fixed polynomial prediction + partitioned Rice,"
                                                 " coded and verified bit-exactly.")
    parser.add_argument("--block-size", type=int, default=4096, help="samples per block (default: 4096)")
    parser.add_argument("--max-order", type=int, default=3, choices=range(4), help="highest predictor order")
    add_common_args(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    shard = parse_shard(parser, args)
    coder = make_shorten(args.block_size, args.max_order)
    store = ResultStore(args.out)

    def run_one(dataset: Dataset) -> list[RateResult]:
        return run_file_coders([coder], dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                               progress=not args.no_progress)

    return run_main(args, args.dataset or list(DEMO_NATIVE), run_one, COLUMNS,
                    footer="every file decoded and compared bit-exactly")


if __name__ == "__main__":
    sys.exit(main())
