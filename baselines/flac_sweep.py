"""FLAC at levels 0-8, stock and with the paper's subframe types disabled (Appendix A).

``python -m baselines.flac_sweep`` with no arguments sweeps the demo corpus (native and 8-bit, stock
and subframes-disabled) and prints the rate per level and dataset. Every file is encoded by libFLAC
in process at its own bit depth (4 to 32 bits), decoded by the data layer's libFLAC reader (MD5
checked) and compared bit-exactly: every rate here is "coded".
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from baselines import flac_codec
from baselines.flac_codec import LEVELS, SUBFRAME_TYPES, FlacSettings
from trilobyte.cli import add_common_args, default_jobs, run_file_coders, run_over_datasets, setup_logging
from trilobyte.datasets import DEMO_8BIT, DEMO_NATIVE, AudioClip, Dataset
from trilobyte.protocol import FileRate, RateResult
from trilobyte.results import ResultStore, Shard

log = logging.getLogger("trilobyte.flac")
METHOD = "flac"
PACKAGES = ("pyflac",)


class LosslessError(AssertionError):
    """A decoded stream differs from the audio that was encoded."""


@dataclass(frozen=True)
class FlacCoder:
    """One FLAC configuration as a per-file coder (coded mode: every file decoded and compared)."""

    settings: FlacSettings
    name: str = METHOD
    mode: str = "coded"

    def config(self) -> dict[str, Any]:
        return {**self.settings.as_dict(), "libflac": flac_codec.libflac_version()}

    def config_name(self) -> str:
        return self.settings.name

    def result_extra(self) -> dict[str, Any]:
        extra = {
            "libflac_version": flac_codec.libflac_version(),
            "encoder": "libFLAC via pyflac",
            "decoder": "libFLAC via trilobyte.libflac (STREAMINFO MD5 checked)",
            "payload": "fLaC marker + STREAMINFO + frames; other metadata blocks are container_bits",
        }
        if "fixed" in self.settings.disable_subframes and self.settings.level <= 2 and not self.settings.max_lpc_order:
            extra["note"] = "levels 0-2 allow no LPC: libFLAC still codes fixed subframes where nothing else is left"
        return extra

    def code_file(self, clip: AudioClip) -> FileRate:
        start = time.perf_counter()
        data = flac_codec.encode(clip.samples, clip.sample_rate, clip.bit_depth, self.settings)
        encoded = time.perf_counter()
        decoded, rate, depth = flac_codec.decode(data)
        if rate != clip.sample_rate or depth != clip.bit_depth or not np.array_equal(decoded, clip.samples):
            raise LosslessError(f"{clip.id}: FLAC round trip is not bit-exact")
        done = time.perf_counter()
        layout = flac_codec.parse_layout(data)
        return FileRate.for_clip(
            clip,
            layout.payload_bytes * 8,
            container_bits=layout.container_bytes * 8,
            seconds=done - start,
            extra={"encode_seconds": encoded - start, "decode_seconds": done - encoded},
        )

    def estimate_rate(self, dataset: Dataset) -> RateResult:
        """Rate on a dataset, without keeping results on disk (the CLI keeps them)."""
        with TemporaryDirectory() as tmp:
            return run_file_coders([self], dataset, ResultStore(tmp), progress=False, packages=PACKAGES)[0]


def parse_levels(text: str) -> list[int]:
    """``"0-8"``, ``"8"`` or ``"0,3,5-8"``."""
    levels: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        try:
            span = range(int(low), int(high or low) + 1)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"levels look like 0-8 or 0,5,8, not {text!r}") from err
        levels.update(span)
    if not levels or not levels <= set(LEVELS):
        raise argparse.ArgumentTypeError(f"FLAC levels are 0 to 8, not {text!r}")
    return sorted(levels)


def parse_subframes(text: str) -> frozenset[str]:
    if text == "none":
        return frozenset()
    kinds = frozenset(t.strip() for t in text.split(",") if t.strip())
    if not kinds <= set(SUBFRAME_TYPES):
        raise argparse.ArgumentTypeError(
            f"subframe types are {','.join(SUBFRAME_TYPES)} (or none), not {text!r}"
        )
    return kinds


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


def format_table(results: Sequence[RateResult]) -> str:
    """Rate per dataset (rows) and level (columns), one block per subframe setting."""
    blocks: dict[str, dict[str, dict[int, RateResult]]] = {}
    for r in results:
        disabled = r.config.get("disable_subframes") or []
        extras = [k for k in ("exhaustive_model_search",) if r.config.get(k)]
        extras += [
            f"{k}={r.config[k]}" for k in ("max_lpc_order", "blocksize") if r.config.get(k) is not None
        ]
        title = ("disabled subframes: " + ",".join(disabled)) if disabled else "stock FLAC"
        if extras:
            title += " (" + ", ".join(extras) + ")"
        label = r.dataset + ("" if r.split == "all" else f" [{r.split}]")
        blocks.setdefault(title, {}).setdefault(label, {})[r.config["level"]] = r
    lines, notes = [], []
    for title, rows in blocks.items():
        levels = sorted({lv for row in rows.values() for lv in row})
        width = max(len(label) for label in rows) + 2
        lines.append(f"\nFLAC rate (raw bits / payload bits), {title}")
        lines.append("dataset".ljust(width) + "depth  " + "".join(f"{'L' + str(lv):>8}" for lv in levels))
        for label, row in rows.items():
            any_result = next(iter(row.values()))
            cells = []
            for lv in levels:
                r = row.get(lv)
                if r is None or r.rate is None:
                    cells.append(f"{'-':>8}")
                    continue
                mark = "*" if r.failures else ""
                cells.append(f"{r.rate:>7.3f}{mark or ' '}")
                if r.failures and (label, len(r.failures)) not in notes:
                    notes.append((label, len(r.failures)))
            lines.append(label.ljust(width) + f"{any_result.bit_depth:<7}" + "".join(cells))
    for label, count in notes:
        lines.append(f"* {label}: {count} file(s) could not be coded and are left out; see the result's rows")
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

    try:
        all_results, status = run_over_datasets(args, args.dataset or list(DEMO_NATIVE), run_one)
    except KeyboardInterrupt:
        return 130
    if all_results:
        print(format_table(all_results))
        print(
            f"\nlibFLAC {flac_codec.libflac_version()}; every file decoded and compared bit-exactly;"
            f" results in {Path(args.out)}"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
