"""``python -m baselines.flac_frames``: libFLAC's frames read back over datasets (residuals, Rice plans, bits)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from baselines.flac.codec import FlacSettings
from baselines.flac.frames import PACKAGES, FlacFramesCoder
from baselines.flac.options import parse_subframes
from trilobyte.core.cli import add_common_args, parse_shard, run_main, setup_logging
from trilobyte.core.datasets import DEMO_NATIVE, Dataset
from trilobyte.core.protocol import RateResult
from trilobyte.core.results import ResultStore
from trilobyte.core.runner import run_file_coders
from trilobyte.core.table import Col, failed, where

COLUMNS = (Col("dataset", where), Col("rate", lambda r: r.rate, ".4f"),
           Col("mean |residual|", lambda r: (r.extra.get("residual_histogram") or {}).get("mean_abs"), ".2f"),
           Col("failed", failed, "d"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.flac_frames",
        description="libFLAC's frames read back: residuals, Rice plans, bit budget and residual histogram.",
    )
    parser.add_argument("--level", type=int, default=8, choices=range(9), help="FLAC level (default: 8)")
    parser.add_argument("--disable-subframes", type=parse_subframes, default=frozenset(), metavar="TYPES",
                        help="comma list of constant,fixed,verbatim (default: none, stock FLAC)")
    add_common_args(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    shard = parse_shard(parser, args)
    coder = FlacFramesCoder(FlacSettings(args.level, args.disable_subframes))
    store = ResultStore(args.out)

    def run_one(dataset: Dataset) -> list[RateResult]:
        return run_file_coders([coder], dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                               progress=not args.no_progress, packages=PACKAGES)

    return run_main(args, args.dataset or list(DEMO_NATIVE), run_one, COLUMNS)


if __name__ == "__main__":
    sys.exit(main())
