"""How fast is the FLAC sweep? In-process libFLAC against the ``flac`` command line, and ``--jobs`` scaling.

``python -m benchmarks.flac_sweep_speed`` measures, in one run over the same clips:

1. the in-process sweep (:class:`baselines.flac.coder.FlacCoder`: libFLAC through pyflac, decoded
   back by the data layer's libFLAC reader and compared bit-exactly), per level, stock and with the
   paper's subframe types disabled;
2. beside it, the way the paper's authors ran FLAC: each clip written to a WAV file on disk, encoded
   by the ``flac`` program in a subprocess, decoded back with ``flac -d`` and compared;
3. the shared runner (:func:`trilobyte.core.cli.run_file_coders`) sweeping the same configurations over
   the same dataset with ``--jobs`` 1, 2, ... into a throw-away results store.

``x realtime`` is audio seconds divided by processing seconds; ``files/s`` is files per processing
second. Parts 1 and 2 run one file at a time on one core, interleaved file by file, so that a busy
shared machine slows both alike, and keep each file's fastest of ``--repeat`` runs. Clips are loaded
once before timing; part 3 is timed end to end, loading and result writing included, as a user would
see it, and keeps each worker count's fastest run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from baselines.classical import process
from baselines.flac import codec as flac_codec
from baselines.flac.codec import FlacError, FlacSettings
from baselines.flac.coder import PACKAGES, FlacCoder
from baselines.flac.options import parse_levels, parse_subframes
from trilobyte.core import audio
from trilobyte.core.cli import datasets_from_args
from trilobyte.core.datasets import SPLITS, AudioClip, Dataset, DatasetError
from trilobyte.core.environment import cpu_name
from trilobyte.core.protocol import LosslessError
from trilobyte.core.results import ResultStore
from trilobyte.core.runner import run_file_coders

DEFAULT_DATASETS = ("demo-music",)
DEFAULT_LEVELS = "0,5,8"
DEFAULT_LIMIT = 100  # with the default levels and --repeat: about 1.5-2 minutes on 2 cores for demo-music
DEFAULT_REPEAT = 5
ALL_DISABLED = frozenset(flac_codec.SUBFRAME_TYPES)


class BenchmarkError(RuntimeError):
    """The benchmark cannot run as asked (no ``flac`` program, a failed round trip, ...)."""


# -- timing records ---------------------------------------------------------------------------------


@dataclass
class Timing:
    """Seconds spent on a set of files, by stage, with the audio and sizes they produced."""

    files: int = 0
    audio_seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    raw_bits: int = 0
    payload_bits: int = 0
    file_bits: int = 0  # payload plus container (padding, seek table, tags)

    def add(self, clip: AudioClip, stages: dict[str, float], payload_bits: int, file_bits: int) -> None:
        self.files += 1
        self.audio_seconds += clip.duration
        self.raw_bits += clip.raw_bits
        self.payload_bits += payload_bits
        self.file_bits += file_bits
        for stage, seconds in stages.items():
            self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def seconds(self, *stages: str) -> float:
        return sum(self.stages.get(s, 0.0) for s in stages)

    def xrealtime(self, *stages: str) -> float:
        return self.audio_seconds / self.seconds(*stages)

    def files_per_second(self, *stages: str) -> float:
        return self.files / self.seconds(*stages)


@dataclass
class ConfigTiming:
    settings: FlacSettings
    inproc: Timing = field(default_factory=Timing)
    cli: Timing = field(default_factory=Timing)


# -- the two ways of running FLAC on one clip -------------------------------------------------------


def time_inprocess(coder: FlacCoder, clip: AudioClip) -> tuple[dict[str, float], int, int]:
    """One ``FlacCoder.code_file`` call: encode in memory, decode, compare (raises on a mismatch)."""
    start = time.perf_counter()
    row = coder.code_file(clip)
    total = time.perf_counter() - start
    encode = row.extra["encode_seconds"]
    stages = {"encode": encode, "decode": total - encode}  # decode + compare + size accounting
    return stages, int(row.compressed_bits), int(row.compressed_bits + row.container_bits)


def flac_program() -> str:
    path = shutil.which("flac")
    if path is None:
        raise BenchmarkError("the flac command line is not installed (Debian: sudo apt-get install flac)")
    return path


def flac_program_version(program: str) -> str:
    done = subprocess.run([program, "--version"], capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


def _run(command: list[str], clip: AudioClip) -> float:
    limit = process.default_limit(clip.duration)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as err:
        raise BenchmarkError(f"{clip.id}: {' '.join(command)} timed out after {limit:g} s") from err
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchmarkError(f"{clip.id}: {' '.join(command)} failed: {done.stderr.strip()}")
    return seconds


def time_cli(program: str, settings: FlacSettings, clip: AudioClip,
             folder: Path) -> tuple[dict[str, float], int, int]:
    """WAV on disk, ``flac -<level> -s -f -o out.flac in.wav``, then ``flac -d`` and a bit-exact compare."""
    wav, flac, back = folder / "in.wav", folder / "out.flac", folder / "back.wav"
    start = time.perf_counter()
    audio.write_pcm(wav, clip.samples, clip.sample_rate, clip.bit_depth)
    write = time.perf_counter() - start
    options = settings.cli_args(clip.sample_rate, clip.bit_depth)
    encode = _run([program, *options, "-s", "-f", "-o", str(flac), str(wav)], clip)
    decode = _run([program, "-d", "-s", "-f", "-o", str(back), str(flac)], clip)
    start = time.perf_counter()
    samples, info = audio.read_pcm(back)
    if (info.sample_rate, info.bit_depth) != (clip.sample_rate, clip.bit_depth) or not np.array_equal(
            samples, clip.samples):
        raise LosslessError(f"{clip.id}: flac command line round trip is not bit-exact")
    compare = time.perf_counter() - start
    data = flac.read_bytes()
    layout = flac_codec.parse_layout(data)
    stages = {"write": write, "encode": encode, "decode": decode, "compare": compare}
    return stages, layout.payload_bytes * 8, len(data) * 8


def _best(runs: Sequence[tuple[dict[str, float], int, int]]) -> tuple[dict[str, float], int, int]:
    """The fastest of repeated runs of one file (the least disturbed by other work on the machine)."""
    return min(runs, key=lambda run: sum(run[0].values()))


def measure_per_file(clips: Sequence[AudioClip], settings: Sequence[FlacSettings], program: str,
                     folder: Path, repeat: int = 1) -> list[ConfigTiming]:
    """Both ways on every clip and configuration, interleaved file by file; best of ``repeat`` per file."""
    if clips:  # warm both paths up (library loading, the program's first exec) outside the timing
        time_inprocess(FlacCoder(settings[0]), clips[0])
        time_cli(program, settings[0], clips[0], folder)
    timings = [ConfigTiming(s) for s in settings]
    for timing in timings:
        coder = FlacCoder(timing.settings)
        for clip in clips:
            inproc, cli = [], []
            for _ in range(repeat):
                inproc.append(time_inprocess(coder, clip))
                cli.append(time_cli(program, timing.settings, clip, folder))
            timing.inproc.add(clip, *_best(inproc))
            timing.cli.add(clip, *_best(cli))
    return timings


# -- the runner with --jobs -------------------------------------------------------------------------


@dataclass
class JobsTiming:
    jobs: int
    wall_seconds: float
    file_codings: int
    audio_seconds: float  # audio seconds coded: dataset audio x configurations
    rates: tuple[float | None, ...]


def measure_jobs(dataset: Dataset, settings: Sequence[FlacSettings], jobs_list: Sequence[int],
                 repeat: int = 1) -> list[JobsTiming]:
    """The shared runner over the whole dataset per jobs count, each run into a fresh results store.

    The counts take turns, ``repeat`` rounds, and each keeps its shortest wall time.
    """
    coders = [FlacCoder(s) for s in settings]
    best: dict[int, JobsTiming] = {}
    for _ in range(repeat):
        for jobs in jobs_list:
            with tempfile.TemporaryDirectory(prefix="flac-speed-results-") as tmp:
                start = time.perf_counter()
                results = run_file_coders(coders, dataset, ResultStore(tmp), jobs=jobs, progress=False,
                                          packages=PACKAGES)
                wall = time.perf_counter() - start
            failed = [f for r in results for f in r.failures]
            if failed:
                raise BenchmarkError(
                    f"{dataset.key}: {len(failed)} file(s) failed with --jobs {jobs}: {failed[0].error}")
            if jobs not in best or wall < best[jobs].wall_seconds:
                best[jobs] = JobsTiming(jobs, wall, sum(len(r.files) for r in results),
                                        sum(r.audio_seconds for r in results), tuple(r.rate for r in results))
    found = [best[jobs] for jobs in dict.fromkeys(jobs_list)]
    if len({t.rates for t in found}) > 1:
        raise BenchmarkError(f"{dataset.key}: rates differ between --jobs counts: {[t.rates for t in found]}")
    return found


# -- tables -----------------------------------------------------------------------------------------


def _label(settings: FlacSettings) -> str:
    return f"-{settings.level} " + ("no const/fixed/verbatim" if settings.disable_subframes == ALL_DISABLED
                                    else "stock" if not settings.disable_subframes
                                    else "no " + "/".join(sorted(settings.disable_subframes)))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], first_width: int) -> list[str]:
    widths = [first_width] + [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(header) if i]

    def line(cells: Sequence[str]) -> str:
        rest = zip(cells[1:], widths[1:], strict=True)
        return cells[0].ljust(widths[0]) + "".join(c.rjust(w) for c, w in rest)

    head = line(header)
    return [head, "-" * len(head), *(line(row) for row in rows)]


def format_per_file(timings: Sequence[ConfigTiming]) -> str:
    """Encode-only and round-trip speed of both ways, their ratio, and the sizes each produced."""
    width = max(len(_label(t.settings)) for t in timings) + 2
    header = ["FLAC level", "in-proc xRT", "files/s", "CLI xRT", "files/s", "in-proc/CLI"]
    lines = ["Encode only (in-process: libFLAC encode in memory; CLI: the flac process, WAV already on disk)"]
    lines += _table(header, [
        [_label(t.settings), f"{t.inproc.xrealtime('encode'):.1f}",
         f"{t.inproc.files_per_second('encode'):.1f}",
         f"{t.cli.xrealtime('encode'):.1f}", f"{t.cli.files_per_second('encode'):.1f}",
         f"{t.inproc.xrealtime('encode') / t.cli.xrealtime('encode'):.2f}x"] for t in timings], width)
    every = ("write", "encode", "decode", "compare")
    lines += ["", "Round trip, bit-exact (in-process: encode, decode, compare;"
                  " CLI: write WAV, flac, flac -d, read WAV, compare)"]
    lines += _table([*header, "CLI decode xRT"], [
        [_label(t.settings), f"{t.inproc.xrealtime('encode', 'decode'):.1f}",
         f"{t.inproc.files_per_second('encode', 'decode'):.1f}", f"{t.cli.xrealtime(*every):.1f}",
         f"{t.cli.files_per_second(*every):.1f}",
         f"{t.inproc.xrealtime('encode', 'decode') / t.cli.xrealtime(*every):.2f}x",
         f"{t.cli.xrealtime('decode'):.1f}"] for t in timings], width)
    lines += ["", "Sizes (rate = raw bits / bits; payload = fLaC + STREAMINFO + frames)"]
    lines += _table(["FLAC level", "in-proc payload", "CLI payload", "CLI whole file"], [
        [_label(t.settings), f"{t.inproc.raw_bits / t.inproc.payload_bits:.4f}",
         f"{t.cli.raw_bits / t.cli.payload_bits:.4f}", f"{t.cli.raw_bits / t.cli.file_bits:.4f}"]
        for t in timings], width)
    return "\n".join(lines)


def format_jobs(timings: Sequence[JobsTiming], configs: int) -> str:
    base = timings[0].wall_seconds
    lines = [f"Scaling with --jobs (run_file_coders over the whole dataset, {configs} configuration(s)"
             " per file, loading and result writing included)",
             "xRT = audio seconds x configurations / wall seconds;"
             " codings/s = files x configurations / wall seconds"]
    lines += _table(["jobs", "wall s", "xRT", "codings/s", "speed-up"], [
        [str(t.jobs), f"{t.wall_seconds:.2f}", f"{t.audio_seconds / t.wall_seconds:.1f}",
         f"{t.file_codings / t.wall_seconds:.1f}", f"{base / t.wall_seconds:.2f}x"] for t in timings], 6)
    return "\n".join(lines)


def machine_line() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores}-core {platform.machine()} CPU ({cpu_name()}), Python {platform.python_version()}"


def load_line() -> str:
    """The 1-minute load average: on a shared machine, read the figures beside it."""
    return f"load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "load average unknown"


# -- command line -----------------------------------------------------------------------------------


def parse_jobs_list(text: str) -> list[int]:
    try:
        jobs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--jobs-list looks like 1,2,4, not {text!r}") from err
    if not jobs or min(jobs) < 1:
        raise argparse.ArgumentTypeError(f"--jobs-list needs positive worker counts, not {text!r}")
    return jobs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.flac_sweep_speed",
        description="Speed of the in-process FLAC sweep against the flac command line, and --jobs scaling.",
    )
    parser.add_argument("--levels", type=parse_levels, default=parse_levels(DEFAULT_LEVELS),
                        help=f"FLAC levels, e.g. 0-8 or 0,5,8 (default: {DEFAULT_LEVELS})")
    parser.add_argument("--disable-subframes", type=parse_subframes, default=None, metavar="TYPES",
                        help="comma list of constant,fixed,verbatim, or 'none' for stock FLAC only"
                             " (default: both stock and all three disabled)")
    parser.add_argument("--jobs-list", type=parse_jobs_list, default=[1, 2],
                        help="worker counts for the runner's scaling table (default: 1,2)")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT,
                        help="time everything this many times and keep the fastest (default: %(default)s)")
    group = parser.add_argument_group("data (the shared flags, same meaning as in every method)")
    group.add_argument("--dataset", action="append", metavar="NAME_OR_FOLDER",
                       help="a registered dataset or a folder; repeat for several"
                            f" (default: {' '.join(DEFAULT_DATASETS)})")
    group.add_argument("--data-root", type=Path, default=None,
                       help="folder holding the paper's datasets"
                            " (default: $TRILOBYTE_DATA or ~/trilobyte-data)")
    group.add_argument("--split", choices=SPLITS, default="all", help="which split (default: all)")
    group.add_argument("--bit-depth", default="native", choices=["native", "8", "16", "24"],
                       help="evaluated bit depth (default: native)")
    group.add_argument("--conversion", choices=audio.CONVERSIONS, default=None,
                       help="integer conversion to a lower depth (default: mulaw for 8-bit, else linear)")
    group.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                       help="only the first N clips of each dataset; 0 for all (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.limit < 0:
        parser.error("--limit must be 0 (all clips) or more")
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    args.limit = args.limit or None
    disabled = [frozenset(), ALL_DISABLED] if args.disable_subframes is None else [args.disable_subframes]
    settings = [FlacSettings(level, kinds) for kinds in disabled for level in args.levels]
    try:
        program = flac_program()
        datasets = datasets_from_args(args, default=DEFAULT_DATASETS)
        print(f"Machine: {machine_line()}; {load_line()} at the start")
        print(f"In-process: libFLAC {flac_codec.libflac_version()} (pyflac); command line: {program}"
              f" ({flac_program_version(program)})")
        for dataset in datasets:
            clips = list(dataset.clips())
            depths = sorted({c.bit_depth for c in clips})
            rates = sorted({c.sample_rate for c in clips})
            print(f"\n=== {dataset.key}: {len(clips)} files, {sum(c.duration for c in clips):.1f} s of audio,"
                  f" {'/'.join(map(str, depths))}-bit, {'/'.join(f'{r / 1000:g}' for r in rates)} kHz ===")
            print("One file at a time on one core; xRT = audio seconds / processing seconds.\n")
            with tempfile.TemporaryDirectory(prefix="flac-speed-") as tmp:
                print(format_per_file(measure_per_file(clips, settings, program, Path(tmp), args.repeat)))
            print()
            print(format_jobs(measure_jobs(dataset, settings, args.jobs_list, args.repeat), len(settings)))
            print(f"({load_line()} at the end)")
    except (BenchmarkError, DatasetError, FlacError, LosslessError, audio.AudioError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
