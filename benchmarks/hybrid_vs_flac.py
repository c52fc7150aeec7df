"""The hybrid coder against ``flac -8``, file by file: where and by how much the hybrid writes more.

    python benchmarks/hybrid_vs_flac.py --model DIR --dataset dev-all [--dataset demo-music ...]
        [--split valid] [--data-root /work] [--jobs 2] [--verify] [--worst 8] [--limit N]

Every file of each dataset's split is coded with the hybrid codec (:func:`trilobyte.hybrid.codec.encode`,
one process a file; ``--verify`` decodes it back and checks it bit for bit) and with libFLAC at level 8
(:func:`trilobyte.core.flacblocks.encode_blocks`: ``flac -8``'s own frames). Payloads are counted as the
toolkit counts them: the hybrid's frame payloads (the container's header and seek table left out), FLAC's
frames plus 42 bytes (``fLaC`` and its STREAMINFO block). Per dataset it prints both totals and rates
(raw PCM bits over coded bits), how many files the hybrid codes in more than 1% above FLAC's size, and
the worst files by the ratio hybrid / FLAC with their duration and format.

A measuring tool: it chooses nothing. The default split is ``valid``; measure on ``test`` only to report.
A file that fails (unreadable, or a decode that is not exact) is one failed row; the exit status is 0
when every file was coded, 1 when any failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

FLAC_HEADER_BYTES = 42  # "fLaC" and a STREAMINFO block, as the toolkit counts a FLAC payload
WORSE_MARGIN = 0.01  # a file counts as a loss when the hybrid is more than 1% above FLAC


@dataclass(frozen=True)
class Row:
    """One file's sizes (bytes) and format, or why it failed."""

    clip_id: str
    sizes: tuple[int, int, int] = (0, 0, 0)  # hybrid bytes, flac -8 bytes, raw PCM bits
    audio: tuple[float, int, int, int] = (0.0, 0, 0, 0)  # seconds, bit depth, sample rate, channels
    error: str = ""

    @property
    def hybrid_bytes(self) -> int:
        return self.sizes[0]

    @property
    def flac_bytes(self) -> int:
        return self.sizes[1]

    @property
    def ratio(self) -> float:
        return self.hybrid_bytes / self.flac_bytes


def flac8_bytes(samples: np.ndarray, sample_rate: int, bit_depth: int) -> int:
    """``flac -8``'s payload: its frames (libFLAC, 4096-sample blocks) plus the 42-byte stream header."""
    from trilobyte.core.flacblocks import encode_blocks

    return sum(len(f) for f in encode_blocks(samples, sample_rate, bit_depth)) + FLAC_HEADER_BYTES


def code_file(job: tuple) -> Row:
    """Code one file both ways (a worker's job: the dataset, the file's reference, the model, verify)."""
    dataset, ref, model_dir, verify = job
    try:
        from trilobyte.hybrid import codec

        clip = dataset.load(ref)
        encoded = codec.encode(clip.samples, clip.sample_rate, clip.bit_depth, model_dir)
        if verify:
            back, _ = codec.decode(encoded.data, model_dir)
            if not np.array_equal(back, clip.samples):
                raise codec.CodecError("the decode is not exact")
        flac = flac8_bytes(clip.samples, clip.sample_rate, clip.bit_depth)
        return Row(clip.id, (encoded.container.payload_bytes, flac, clip.raw_bits),
                   (clip.duration, clip.bit_depth, clip.sample_rate, clip.channels))
    except Exception as err:  # one bad file is one failed row
        return Row(ref.id, error=f"{type(err).__name__}: {err}")


def run_jobs(jobs: list[tuple], workers: int) -> list[Row]:
    """Every job's row, longest files first across ``workers`` processes (rows in the jobs' order)."""
    if workers <= 1 or len(jobs) <= 1:
        return [code_file(job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][1].num_samples * jobs[i][1].out_channels)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
        done = dict(zip(order, pool.map(code_file, [jobs[i] for i in order]), strict=True))
    return [done[i] for i in range(len(jobs))]


def report(name: str, rows: list[Row], worst: int) -> list[str]:
    """The dataset's lines: totals and rates, the count of losses, the worst files."""
    ok = [r for r in rows if not r.error]
    failed = [r for r in rows if r.error]
    minutes = sum(r.audio[0] for r in ok) / 60
    lines = [f"=== {name}: {len(rows)} files, {minutes:.1f} min" + (f", {len(failed)} FAILED" if failed else "")]
    if ok:
        raw = sum(r.sizes[2] for r in ok)
        flac, hybrid = sum(r.flac_bytes for r in ok), sum(r.hybrid_bytes for r in ok)
        lines.append(f"  flac -8   {flac:12,d} bytes  rate {raw / (8 * flac):.4f}")
        lines.append(f"  hybrid    {hybrid:12,d} bytes  rate {raw / (8 * hybrid):.4f}"
                     f"  ({100 * (flac / hybrid - 1):+.2f}% rate against flac -8)")
        losses = [r for r in ok if r.hybrid_bytes > (1 + WORSE_MARGIN) * r.flac_bytes]
        lines.append(f"  hybrid > flac -8 by more than {100 * WORSE_MARGIN:.0f}%: {len(losses)} of {len(ok)} files")
        lines.append(f"  worst files: {'hybrid/flac':>11s} {'hybrid B':>10s} {'flac B':>10s} {'seconds':>8s}"
                     f" {'depth':>5s} {'rate':>6s} {'ch':>2s}  file")
        for r in sorted(ok, key=lambda r: -r.ratio)[:worst]:
            seconds, depth, rate, channels = r.audio
            lines.append(f"  {'':12s} {r.ratio:11.3f} {r.hybrid_bytes:10,d} {r.flac_bytes:10,d} {seconds:8.2f}"
                         f" {depth:5d} {rate:6d} {channels:2d}  {r.clip_id}")
    lines += [f"  FAILED {r.clip_id}: {r.error}" for r in failed]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="a hybrid model folder")
    parser.add_argument("--dataset", action="append", required=True, help="a dataset name or folder (repeat)")
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test", "all"))
    parser.add_argument("--data-root", type=Path, default=None, help="folder that holds the datasets' files")
    parser.add_argument("--jobs", type=int, default=1, help="processes (one file each at a time)")
    parser.add_argument("--verify", action="store_true", help="decode every hybrid file and check it bit for bit")
    parser.add_argument("--worst", type=int, default=8, help="worst files listed per dataset")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files of each dataset")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.worst < 0:
        parser.error("--jobs must be at least 1 and --worst at least 0")
    from trilobyte.core.datasets import DatasetError, get_dataset
    from trilobyte.hybrid.model import ModelError, get_model

    try:
        get_model(args.model)
        datasets = [get_dataset(d, root=args.data_root, split=args.split, limit=args.limit) for d in args.dataset]
    except (DatasetError, ModelError) as err:
        parser.error(str(err))
    model = str(args.model.expanduser().resolve())
    failed = False
    for dataset in datasets:
        start = time.perf_counter()
        rows = run_jobs([(dataset, ref, model, args.verify) for ref in dataset.refs], args.jobs)
        failed |= any(r.error for r in rows)
        print("\n".join(report(dataset.key, rows, args.worst)))
        print(f"  ({time.perf_counter() - start:.0f} s with {args.jobs} process(es)"
              f"{', every hybrid file decoded exactly' if args.verify and not failed else ''})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
