"""The hybrid coder against ``flac -8`` (and WavPack ``-hhx6`` and sac ``--normal``), file by file.

    python benchmarks/hybrid_vs_flac.py [--model DIR] --dataset dev-all [--dataset demo-music ...]
        [--wavpack] [--sac PATH] [--split valid] [--data-root /work] [--jobs 2] [--verify] [--worst 8]
        [--limit N]

Every file of each dataset's split is coded with the hybrid codec (:func:`trilobyte.hybrid.codec.encode`,
one process a file; ``--verify`` decodes it back and checks it bit for bit) with ``--model``'s folder or,
without it, the model installed with the package (:func:`trilobyte.hybrid.defaults.resolve_model`), and
with libFLAC at level 8 (:func:`trilobyte.core.flacblocks.encode_blocks`: ``flac -8``'s own frames).
``--wavpack`` codes it with WavPack at ``-hhx6`` too and ``--sac PATH`` with that sac program at its default,
``--normal``, both through :mod:`baselines.classical` (``CommandCoder.code_file``: the file encoded,
decoded and compared bit for bit, as ``python -m baselines.classical`` does). sac reads 8 and 16-bit audio
only: a 24-bit file has no sac figure (the count is printed), and every comparison with sac is made over the
files sac coded.

Payloads are counted as the toolkit counts them: the hybrid's frame payloads (the container's header and
seek table left out), FLAC's frames plus 42 bytes (``fLaC`` and its STREAMINFO block), WavPack's blocks
without the stored RIFF header and MD5 sub-blocks, sac's whole file (:mod:`baselines.classical.containers`).
Per dataset it prints each coder's total and rate (raw PCM bits over coded bits), the hybrid's rate against
each of the others and how many files it codes in more than 1% above each one's size, and the worst files
by the ratio hybrid / FLAC with their duration and format.

A measuring tool: it chooses nothing. The default split is ``valid``; measure on ``test`` only to report.
A file that fails (unreadable, any coder's error, or a decode that is not exact) is one failed row naming
the coder; the exit status is 0 when every file was coded, 1 when any failed, 2 for a usage error (a
missing model, ``--sac`` not an executable file, ``--wavpack`` without the wavpack program).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    from baselines.classical.commands import CommandCoder
    from trilobyte.core.datasets import AudioClip, ClipRef, Dataset

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

FLAC_HEADER_BYTES = 42  # "fLaC" and a STREAMINFO block, as the toolkit counts a FLAC payload
WORSE_MARGIN = 0.01  # a file counts as a loss when the hybrid is more than 1% above the other coder
HYBRID, FLAC, WAVPACK, SAC = "hybrid", "flac -8", "WavPack -hhx6", "sac --normal"
CLASSICAL = {WAVPACK: ("wavpack", "hhx6"), SAC: ("sac", "default")}  # baselines.classical codec and preset
# (sac's "default" preset passes no option: sac's own default mode is --normal)


@dataclass(frozen=True)
class Row:
    """One file's payload bytes per coder, raw PCM bits and format, or why it failed.

    A coder that cannot hold the file's format (sac and 24-bit audio) has no size; ``skipped`` says why.
    """

    clip_id: str
    sizes: dict[str, int] = field(default_factory=dict)  # coder name -> payload bytes
    raw_bits: int = 0
    audio: tuple[float, int, int, int] = (0.0, 0, 0, 0)  # seconds, bit depth, sample rate, channels
    skipped: dict[str, str] = field(default_factory=dict)  # coder name -> why it has no size
    error: str = ""

    @property
    def hybrid_bytes(self) -> int:
        return self.sizes[HYBRID]

    @property
    def flac_bytes(self) -> int:
        return self.sizes[FLAC]

    @property
    def ratio(self) -> float:
        return self.hybrid_bytes / self.flac_bytes


@dataclass(frozen=True)
class Job:
    """One worker's file: the dataset, the file's reference, the model, verify, the classical coders."""

    dataset: Dataset
    ref: ClipRef
    model_dir: str
    verify: bool
    others: tuple[tuple[str, CommandCoder], ...] = ()  # (coder name, its classical coder), in print order


def flac8_bytes(samples: np.ndarray, sample_rate: int, bit_depth: int) -> int:
    """``flac -8``'s payload: its frames (libFLAC, 4096-sample blocks) plus the 42-byte stream header."""
    from trilobyte.core.flacblocks import encode_blocks

    return sum(len(f) for f in encode_blocks(samples, sample_rate, bit_depth)) + FLAC_HEADER_BYTES


def hybrid_bytes(clip: AudioClip, model_dir: str, verify: bool) -> int:
    """The hybrid's frame payload for one clip (decoded and compared when ``verify``)."""
    from trilobyte.hybrid import codec

    encoded = codec.encode(clip.samples, clip.sample_rate, clip.bit_depth, model_dir)
    if verify:
        back, _ = codec.decode(encoded.data, model_dir)
        if not np.array_equal(back, clip.samples):
            raise codec.CodecError("the decode is not exact")
    return encoded.container.payload_bytes


def classical_bytes(coder: CommandCoder, clip: AudioClip) -> int:
    """A command-line codec's payload for one clip, encoded, decoded and compared by the classical baseline."""
    return coder.code_file(clip).compressed_bits // 8


class CoderFailed(RuntimeError):
    """One coder's failure on one file; the message names the coder."""


def _sized(name: str, size: Callable[[], int]) -> int:
    try:
        return size()
    except Exception as err:
        raise CoderFailed(f"{type(err).__name__}: {err} ({name})") from err


def code_file(job: Job) -> Row:
    """Code one file with every coder (a worker's job); any failure is the file's failed row."""
    from baselines.classical.commands import UnsupportedInput

    try:
        clip = job.dataset.load(job.ref)
        sizes = {HYBRID: _sized(HYBRID, lambda: hybrid_bytes(clip, job.model_dir, job.verify)),
                 FLAC: _sized(FLAC, lambda: flac8_bytes(clip.samples, clip.sample_rate, clip.bit_depth))}
        skipped: dict[str, str] = {}
        for name, coder in job.others:
            try:
                coder.check_supported(clip)
            except UnsupportedInput as err:
                skipped[name] = str(err)
                continue
            sizes[name] = _sized(name, lambda coder=coder: classical_bytes(coder, clip))
        return Row(clip.id, sizes, clip.raw_bits, (clip.duration, clip.bit_depth, clip.sample_rate, clip.channels),
                   skipped)
    except CoderFailed as err:
        return Row(job.ref.id, error=str(err))
    except Exception as err:  # one bad file is one failed row
        return Row(job.ref.id, error=f"{type(err).__name__}: {err}")


def run_jobs(jobs: list[Job], workers: int) -> list[Row]:
    """Every job's row, longest files first across ``workers`` processes (rows in the jobs' order)."""
    if workers <= 1 or len(jobs) <= 1:
        return [code_file(job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].ref.num_samples * jobs[i].ref.out_channels)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
        done = dict(zip(order, pool.map(code_file, [jobs[i] for i in order]), strict=True))
    return [done[i] for i in range(len(jobs))]


def files(count: int) -> str:
    """"1 file", "3 files"."""
    return f"{count} file" + ("" if count == 1 else "s")


def coder_line(name: str, rows: list[Row]) -> str:
    """One coder's total and rate over the files it coded (and how many it could not hold, and why)."""
    coded = [r for r in rows if name in r.sizes]
    size, raw = sum(r.sizes[name] for r in coded), sum(r.raw_bits for r in coded)
    line = f"  {name:<14s}{size:12,d} bytes  rate " + (f"{raw / (8 * size):.4f}" if size else "-")
    reasons = sorted({r.skipped[name] for r in rows if name in r.skipped})
    if reasons:
        line += (f"  (over the {files(len(coded))} of {len(rows)} it coded; {files(len(rows) - len(coded))}"
                 f" without a {name} figure: {'; '.join(reasons)})")
    return line


def hybrid_line(rows: list[Row]) -> str:
    """The hybrid's total and rate, and its rate against ``flac -8``'s."""
    hybrid, flac = sum(r.hybrid_bytes for r in rows), sum(r.flac_bytes for r in rows)
    return (f"  {HYBRID:<14s}{hybrid:12,d} bytes  rate {sum(r.raw_bits for r in rows) / (8 * hybrid):.4f}"
            f"  ({100 * (flac / hybrid - 1):+.2f}% rate against {FLAC})")


def losses(name: str, rows: list[Row]) -> list[Row]:
    """The files whose hybrid payload is more than 1% above coder ``name``'s."""
    return [r for r in rows if name in r.sizes and r.hybrid_bytes > (1 + WORSE_MARGIN) * r.sizes[name]]


def against_line(name: str, rows: list[Row]) -> str:
    """The hybrid against another coder, over the files that coder coded: rate change and losses."""
    coded = [r for r in rows if name in r.sizes]
    if not coded:
        return f"  hybrid against {name}: no file coded by {name}"
    other, hybrid = sum(r.sizes[name] for r in coded), sum(r.hybrid_bytes for r in coded)
    over = "" if len(coded) == len(rows) else f" over the {files(len(coded))} {name.split()[0]} coded"
    return (f"  hybrid against {name}{over}: {100 * (other / hybrid - 1):+.2f}% rate;"
            f" above it by more than {100 * WORSE_MARGIN:.0f}%: {len(losses(name, coded))} of {len(coded)} files")


def report(name: str, rows: list[Row], worst: int, others: Sequence[str] = ()) -> list[str]:
    """The dataset's lines: each coder's total and rate, the hybrid against each, the worst files vs FLAC."""
    ok = [r for r in rows if not r.error]
    failed = [r for r in rows if r.error]
    minutes = sum(r.audio[0] for r in ok) / 60
    lines = [f"=== {name}: {len(rows)} files, {minutes:.1f} min" + (f", {len(failed)} FAILED" if failed else "")]
    if ok:
        lines += [coder_line(c, ok) for c in (FLAC, *others)]
        lines.append(hybrid_line(ok))
        lines.append(f"  hybrid > {FLAC} by more than {100 * WORSE_MARGIN:.0f}%: {len(losses(FLAC, ok))} of"
                     f" {len(ok)} files")
        lines += [against_line(c, ok) for c in others]
        lines.append(f"  worst files: {'hybrid/flac':>11s} {'hybrid B':>10s} {'flac B':>10s} {'seconds':>8s}"
                     f" {'depth':>5s} {'rate':>6s} {'ch':>2s}  file")
        for r in sorted(ok, key=lambda r: -r.ratio)[:worst]:
            seconds, depth, rate, channels = r.audio
            lines.append(f"  {'':12s} {r.ratio:11.3f} {r.hybrid_bytes:10,d} {r.flac_bytes:10,d} {seconds:8.2f}"
                         f" {depth:5d} {rate:6d} {channels:2d}  {r.clip_id}")
    lines += [f"  FAILED {r.clip_id}: {r.error}" for r in failed]
    return lines


def classical_coder(name: str, binary: Path | None = None) -> CommandCoder:
    """The ``baselines.classical`` coder behind ``name``, built as ``python -m baselines.classical`` builds it."""
    from baselines.classical.codecs import COMMAND_CODECS
    from baselines.classical.commands import make_coder

    codec, preset = CLASSICAL[name]
    return make_coder(COMMAND_CODECS[codec], preset, binary)


def classical_coders(parser: argparse.ArgumentParser, wavpack: bool,
                     sac: Path | None) -> tuple[tuple[str, CommandCoder], ...]:
    """The WavPack and sac coders asked for (a missing program is a usage error)."""
    from baselines.classical.codecs import COMMAND_CODECS
    from baselines.classical.commands import CodecUnavailable

    coders: list[tuple[str, CommandCoder]] = []
    if wavpack:
        try:
            coders.append((WAVPACK, classical_coder(WAVPACK)))
        except CodecUnavailable:
            package = COMMAND_CODECS[CLASSICAL[WAVPACK][0]].package
            parser.error(f"--wavpack needs the wavpack and wvunpack programs, which are not installed here:"
                         f" install the Debian package {package} (sudo apt-get install {package})")
    if sac is not None:
        try:
            coders.append((SAC, classical_coder(SAC, sac)))
        except CodecUnavailable:
            parser.error(f"--sac: {sac} is not an executable file (give the path of a built sac program)")
    return tuple(coders)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a hybrid model folder (default: the model installed with the package)")
    parser.add_argument("--dataset", action="append", required=True, help="a dataset name or folder (repeat)")
    parser.add_argument("--wavpack", action="store_true", help="also code every file with WavPack -hhx6")
    parser.add_argument("--sac", type=Path, default=None, metavar="PATH",
                        help="sac's program: also code every 8 and 16-bit file with sac --normal")
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
    from trilobyte.hybrid.defaults import resolve_model
    from trilobyte.hybrid.model import ModelError, get_model

    try:
        model_dir = resolve_model(args.model)
        get_model(model_dir)
        datasets = [get_dataset(d, root=args.data_root, split=args.split, limit=args.limit) for d in args.dataset]
    except (DatasetError, ModelError) as err:
        parser.error(str(err))
    others = classical_coders(parser, args.wavpack, args.sac)
    model = str(model_dir.expanduser().resolve())
    failed = False
    for dataset in datasets:
        start = time.perf_counter()
        rows = run_jobs([Job(dataset, ref, model, args.verify, others) for ref in dataset.refs], args.jobs)
        failed |= any(r.error for r in rows)
        print("\n".join(report(dataset.key, rows, args.worst, [name for name, _ in others])))
        checked = ["every hybrid file decoded exactly"] if args.verify and not failed else []
        checked += [f"every {name} file decoded and compared" for name, _ in others
                    if not failed and any(name in r.sizes for r in rows)]
        print(f"  ({time.perf_counter() - start:.0f} s with {args.jobs} process(es)"
              f"{''.join(', ' + c for c in checked)})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
