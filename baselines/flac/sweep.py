"""FLAC at levels 0-8, stock and with the paper's subframe types disabled (Appendix A).

``python -m baselines.flac_sweep`` with no arguments sweeps the demo corpus (native and 8-bit, stock
and subframes-disabled) and prints the rate per level and dataset. Every file is encoded by libFLAC
in process, decoded by an independent reader and compared bit-exactly: every rate here is "coded".
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from baselines.flac import codec as flac_codec
from baselines.flac.codec import LEVELS, SUBFRAME_TYPES, FlacSettings
from baselines.flac.coder import PACKAGES, FlacCoder
from baselines.flac.options import parse_levels, parse_subframes
from trilobyte.core.cli import add_common_args, default_jobs, run_main, setup_logging
from trilobyte.core.datasets import DEMO_8BIT, DEMO_NATIVE, Dataset
from trilobyte.core.protocol import RateResult
from trilobyte.core.results import ResultStore, Shard
from trilobyte.core.runner import run_file_coders
from trilobyte.core.table import Col, format_table, where

log = logging.getLogger("trilobyte.flac")
def build_settings(args: argparse.Namespace) -> list[FlacSettings]:
    disabled_sets = (
        [frozenset(), frozenset(SUBFRAME_TYPES)]
        if args.disable_subframes is None
        else [args.disable_subframes]
    )
    return [
        FlacSettings(level, disabled, args.exhaustive, args.max_lpc_order, args.blocksize)
        for disabled in disabled_sets
        for level in args.levels
    ]


def _setting(r: RateResult) -> str:
    """A result's subframe setting and expert options: the title of its block of the table."""
    disabled = r.config.get("disable_subframes") or []
    extras = [k for k in ("exhaustive_model_search",) if r.config.get(k)]
    extras += [f"{k}={r.config[k]}" for k in ("max_lpc_order", "blocksize") if r.config.get(k) is not None]
    title = ("disabled subframes: " + ",".join(disabled)) if disabled else "stock FLAC"
    return title + (" (" + ", ".join(extras) + ")" if extras else "")


def _level(level: int) -> Col:
    """One level's column of a block's rows (dataset, results by level): the rate, marked * when files failed."""
    def cell(item: tuple[str, dict[int, RateResult]]) -> str | None:
        r = item[1].get(level)
        return None if r is None or r.rate is None else f"{r.rate:.3f}" + ("*" if r.failures else "")

    return Col(f"L{level}", cell, right=True)


def sweep_table(results: Sequence[RateResult]) -> str:
    """Rate per dataset (rows) and level (columns), one block per subframe setting."""
    blocks: dict[str, dict[str, dict[int, RateResult]]] = {}
    for r in results:
        blocks.setdefault(_setting(r), {}).setdefault(where(r), {})[r.config["level"]] = r
    lines = []
    for title, rows in blocks.items():
        levels = sorted({lv for row in rows.values() for lv in row})
        columns = [Col("dataset", lambda item: item[0]),
                   Col("depth", lambda item: next(iter(item[1].values())).bit_depth), *map(_level, levels)]
        lines += ["", f"FLAC rate (raw bits / payload bits), {title}", format_table(rows.items(), columns)]
    notes = dict.fromkeys((where(r), len(r.failures)) for r in results if r.failures)
    lines += [f"* {label}: {count} file(s) could not be coded and are left out; see the result's rows"
              for label, count in notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.flac_sweep",
        description="FLAC levels 0-8, stock and subframes-disabled, coded and verified bit-exactly.",
    )
    parser.add_argument(
        "--levels", type=parse_levels, default=list(LEVELS), help="e.g. 0-8, 8 or 0,5,8 (default: 0-8)"
    )
    parser.add_argument(
        "--disable-subframes",
        type=parse_subframes,
        default=None,
        metavar="TYPES",
        help="comma list of constant,fixed,verbatim, or 'none' for stock FLAC only"
        " (default: both stock and all three disabled, as in the paper's Appendix A)",
    )
    expert = parser.add_argument_group("expert libFLAC options")
    expert.add_argument("--exhaustive", action="store_true", help="exhaustive model search (flac -e)")
    expert.add_argument("--max-lpc-order", type=int, default=None, help="maximum LPC order (flac -l)")
    expert.add_argument("--blocksize", type=int, default=None, help="block size in samples (flac -b)")
    add_common_args(parser, default_datasets=DEMO_NATIVE + DEMO_8BIT)
    parser.set_defaults(jobs=default_jobs())
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    try:
        settings = build_settings(args)
        shard = Shard.parse(args.shard)
    except ValueError as err:
        parser.error(str(err))
    coders = [FlacCoder(s) for s in settings]
    if args.dataset is None and args.bit_depth == "native":
        args.dataset = list(DEMO_NATIVE + DEMO_8BIT)
    store = ResultStore(args.out)
    log.info(
        "libFLAC %s; %d configuration(s); results under %s",
        flac_codec.libflac_version(),
        len(coders),
        args.out,
    )

    def run_one(dataset: Dataset) -> list[RateResult]:
        return run_file_coders(coders, dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                               progress=not args.no_progress, packages=PACKAGES)

    footer = (f"\nlibFLAC {flac_codec.libflac_version()}; every file decoded and compared bit-exactly;"
              f" results in {Path(args.out)}")
    return run_main(args, args.dataset or list(DEMO_NATIVE), run_one, sweep_table, footer)


if __name__ == "__main__":
    sys.exit(main())
