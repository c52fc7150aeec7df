"""``encode | decode | test | info`` over audio files, in the manner of ``flac``: what the toolkit's codecs share.

Each codec's command module builds a :class:`FileCodec` (its encode, decode and header functions, bound to
the loaded model and settings) and calls :func:`main`. One file that cannot be coded is reported and the
next one goes on; the exit status is 1 when any failed, 2 for a usage error. ``-`` as an input reads
standard input, and as ``-o`` writes standard output (so does an input of ``-`` without ``-o``, or
``--stdout``); the per-file lines then go to standard error.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core.audio import SUPPORTED_BIT_DEPTHS, AudioError, AudioInfo, read_pcm, write_pcm
from trilobyte.core.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, setup_logging
from trilobyte.core.container import MAGIC, ContainerError

log = logging.getLogger("trilobyte")
CONTAINERS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}
STDIO = Path("-")
MAGIC_SUFFIXES = {b"RIFF": ".wav", b"RF64": ".wav", b"FORM": ".aiff", b"fLaC": ".flac", b"ID3": ".flac"}


class FileCommandError(ValueError):
    """An output that cannot be written as asked, or a file whose decoded audio differs from its source."""


class UsageError(ValueError):
    """A run that cannot start as asked (exit status 2), such as a codec with no model to use."""


@dataclass(frozen=True)
class FileCodec:
    """A codec as the file commands use it.

    ``encode(samples, info)`` returns an object with ``data``, ``payload_bits``, ``container_bits`` and
    ``seconds``; ``decode(data)`` returns the samples and an info with ``num_samples``, ``sample_rate``,
    ``bit_depth``, ``channels`` and ``pcm_md5``; ``header(data)`` the file's JSON header; ``describe``
    adds a codec's own words to an encoded file's line; ``errors`` are the codec's own failures.
    """

    suffix: str
    encode: Callable[[np.ndarray, Any], Any]
    decode: Callable[[bytes], tuple[np.ndarray, Any]]
    header: Callable[[bytes], dict]
    errors: tuple[type[Exception], ...]
    describe: Callable[[Any, np.ndarray, Any], str] | None = None

    @property
    def all_errors(self) -> tuple[type[Exception], ...]:
        return (*self.errors, FileCommandError, ContainerError, AudioError, OSError)


def to_stdout(args: argparse.Namespace) -> bool:
    """Whether the output goes to standard output: ``--stdout``, ``-o -``, or an input of ``-`` without ``-o``."""
    if getattr(args, "stdout", False) or args.output == STDIO:
        return True
    return args.output is None and STDIO in args.inputs


def output_path(path: Path, given: Path | None, suffix: str, force: bool) -> Path:
    out = given or path.with_suffix(suffix)
    if out.resolve() == path.resolve():
        raise FileCommandError(f"{out}: output would overwrite the input")
    if out.exists() and not force:
        raise FileCommandError(f"{out}: exists (use -f to overwrite)")
    return out


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_output(path: Path | None, data: bytes) -> None:
    """Write a file atomically, or standard output when ``path`` is None."""
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomic(path, data)


def read_input(path: Path) -> bytes:
    """A file's bytes, or all of standard input for ``-``."""
    return sys.stdin.buffer.read() if path == STDIO else path.read_bytes()


def read_audio(path: Path) -> tuple[np.ndarray, Any]:
    """Exact PCM from a WAV/AIFF/FLAC file, or from standard input (kept in a temporary file while read)."""
    if path != STDIO:
        return read_pcm(path)
    data = read_input(path)
    suffix = MAGIC_SUFFIXES.get(data[:4], MAGIC_SUFFIXES.get(data[:3]))
    if data[:4] == MAGIC:
        raise AudioError("standard input: already coded; decode it with -d (or the decode command)")
    if suffix is None:
        raise AudioError("standard input: not a WAV, AIFF or FLAC stream")
    with tempfile.TemporaryDirectory(prefix="trilobyte-stdin-") as folder:
        temp = Path(folder) / ("stdin" + suffix)
        temp.write_bytes(data)
        try:
            return read_pcm(temp)
        except AudioError as err:
            raise AudioError(str(err).replace(str(temp), "standard input")) from err


def left_justify(samples: np.ndarray, info: AudioInfo) -> tuple[np.ndarray, AudioInfo]:
    """Audio of a depth below 24 that the codecs do not take (FLAC's 4 to 23 bits but 8 and 16) in the next
    depth they take, each sample scaled by the power of two between (left-justified, as ``flac -d`` writes
    such audio into a WAV file); other audio as it is. Exact both ways: the low bits are zero."""
    if info.bit_depth in SUPPORTED_BIT_DEPTHS or info.bit_depth > max(SUPPORTED_BIT_DEPTHS):
        return samples, info
    target = min(d for d in SUPPORTED_BIT_DEPTHS if d > info.bit_depth)
    return np.asarray(samples, dtype=np.int64) << (target - info.bit_depth), replace(info, bit_depth=target)


def for_each(inputs: list[Path], errors: tuple[type[Exception], ...], action: Callable[[Path], str],
             report: Callable[[str], None] = print) -> int:
    """Run ``action`` on each file and ``report`` its line; a failing file is logged and the next one goes on."""
    status = EXIT_OK
    for path in inputs:
        try:
            report(action(path))
        except errors as err:
            name = "standard input" if path == STDIO else str(path)
            message = str(err)
            log.error("%s", message if message.startswith(name) else f"{name}: {message}")
            status = EXIT_FAILED
    return status


def reporter(args: argparse.Namespace) -> Callable[[str], None]:
    """Where per-file lines go: nowhere with ``--silent``; standard error when standard output carries data
    or the command line asks for it (``lines_to_stderr``, as flac does); else standard output."""
    if getattr(args, "silent", False):
        return lambda line: None
    if getattr(args, "lines_to_stderr", False) or (args.command in ("encode", "decode") and to_stdout(args)):
        return lambda line: print(line, file=sys.stderr)
    return print


def encode_files(codec: FileCodec, args: argparse.Namespace) -> int:
    stdout = to_stdout(args)

    def encode_one(path: Path) -> str:
        if path.suffix.lower() == codec.suffix:
            raise FileCommandError(f"{path}: already coded; decode it with -d (or the decode command)")
        out = None if stdout else output_path(path, args.output, codec.suffix, args.force)
        samples, info = read_audio(path)
        depth = info.bit_depth
        samples, info = left_justify(samples, info)
        encoded = codec.encode(samples, info)
        seconds = info.num_samples / info.sample_rate
        rate = samples.size * depth / encoded.payload_bits
        line = (f"{path}: wrote {len(encoded.data)} bytes ({encoded.payload_bits // 8} payload +"
                f" {encoded.container_bits // 8} container), rate {rate:.4f}")
        if depth != info.bit_depth:
            line += (f" ({depth}-bit audio coded as {info.bit_depth}-bit, each sample times"
                     f" {1 << (info.bit_depth - depth)}: it decodes to that {info.bit_depth}-bit audio)")
        if codec.describe is not None:
            line += ", " + codec.describe(encoded, samples, info)
        line += f", encode {seconds / encoded.seconds:.3f}x realtime"
        if args.verify:  # before anything is written: a file that fails leaves no output
            start = time.perf_counter()
            decoded, _ = codec.decode(encoded.data)
            if decoded.shape != samples.shape or (decoded != samples).any():
                raise FileCommandError(f"verification failed: the decoded audio differs from {path}")
            line += f"; verified ({seconds / (time.perf_counter() - start):.3f}x realtime)"
        write_output(out, encoded.data)
        return line

    return for_each(args.inputs, codec.all_errors, encode_one, reporter(args))


def decode_files(codec: FileCodec, args: argparse.Namespace, write: bool = True) -> int:
    stdout = write and to_stdout(args)

    def decode_one(path: Path) -> str:
        out, kind = None, "WAV"
        if write and not stdout:
            out = output_path(path, args.output, ".wav", args.force)
            if out.suffix.lower() not in CONTAINERS:
                raise FileCommandError(f"{out}: write .wav, .flac or .aiff")
            kind = CONTAINERS[out.suffix.lower()]
        start = time.perf_counter()
        samples, info = codec.decode(read_input(path))
        speed = info.num_samples / info.sample_rate / (time.perf_counter() - start)
        if not write:
            return f"{path}: ok, MD5 {info.pcm_md5} ({speed:.3f}x realtime)"
        buffer = io.BytesIO()
        write_pcm(buffer, samples, info.sample_rate, info.bit_depth, kind)
        write_output(out, buffer.getvalue())
        return (f"{path}: wrote {out or 'WAV to standard output'} ({info.bit_depth}-bit, {info.channels} ch,"
                f" {speed:.3f}x realtime)")

    return for_each(args.inputs, codec.all_errors, decode_one, reporter(args))


def info_files(codec: FileCodec, args: argparse.Namespace) -> int:
    def info_one(path: Path) -> str:
        return f"{path}:\n{json.dumps(codec.header(read_input(path)), indent=1, sort_keys=True)}"

    return for_each(args.inputs, codec.all_errors, info_one, reporter(args))


def add_output_args(parser: argparse.ArgumentParser, default: str) -> None:
    """``-o``, ``-f`` and ``-c``: where a command writes (``default`` names the output it writes without them)."""
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help=f"output file (one input only; - for standard output; default {default})")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs (refused without)")
    parser.add_argument("-c", "--stdout", action="store_true",
                        help="write to standard output (one input only; the default when the input is -)")


def build_parser(prog: str, description: str, suffix: str, add_run_args: Callable[[argparse.ArgumentParser], None],
                 add_encode_args: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.ArgumentParser:
    """``encode``, ``decode``, ``test`` and ``info`` sub-commands with the codec's own run arguments."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help=f"audio files (WAV/FLAC/AIFF) -> {suffix}")
    add_run_args(enc)
    add_output_args(enc, f"IN{suffix}")
    enc.add_argument("--no-verify", dest="verify", action="store_false", help="skip decoding the written file")
    if add_encode_args is not None:
        add_encode_args(enc)
    dec = sub.add_parser("decode", help=f"{suffix} -> WAV (or FLAC/AIFF by the -o suffix)")
    add_run_args(dec)
    add_output_args(dec, "IN.wav")
    test = sub.add_parser("test", help=f"decode {suffix} files and check them; write nothing")
    add_run_args(test)
    info = sub.add_parser("info", help=f"print {suffix} headers")
    info.add_argument("inputs", type=Path, nargs="+", metavar="IN", help="files, or - for standard input")
    for command in (enc, dec, test, info):
        command.add_argument("-v", "--verbose", action="store_true", help="debug messages")
    return parser


def build_flac_parser(prog: str, description: str, suffix: str,
                      add_run_args: Callable[[argparse.ArgumentParser], None],
                      add_encode_args: Callable[[argparse.ArgumentParser], None] | None = None,
                      epilog: str | None = None) -> argparse.ArgumentParser:
    """One command in the manner of ``flac``: encode by default, ``-d`` decode, ``-t`` test; lines go to
    standard error, data to standard output only when asked (``-c``, ``-o -``) or when reading ``-``."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(command="encode", lines_to_stderr=True)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("-d", "--decode", dest="command", action="store_const", const="decode",
                      help=f"decode {suffix} files to WAV (or FLAC/AIFF by the -o suffix)")
    mode.add_argument("-t", "--test", dest="command", action="store_const", const="test",
                      help=f"decode {suffix} files and check them against their MD5; write nothing")
    add_run_args(parser)
    add_output_args(parser, f"IN{suffix}, or IN.wav with -d")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="encode without decoding the result to check it")
    if add_encode_args is not None:
        add_encode_args(parser)
    parser.add_argument("-s", "--silent", action="store_true", help="no per-file lines (errors still print)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug messages")
    return parser


def check_args(args: argparse.Namespace, error: Callable[[str], Any]) -> None:
    """Refuse what no command can do (``error`` is the parser's: it exits with status 2)."""
    if getattr(args, "output", None) and len(args.inputs) > 1:
        error("-o names one output: give one input")
    if args.inputs.count(STDIO) > 1:
        error("standard input (-) can be read once")
    if getattr(args, "stdout", False) and len(args.inputs) > 1:
        error("standard output carries one file: give one input")
    if args.command in ("test", "info") and (getattr(args, "output", None) or getattr(args, "stdout", False)):
        error(f"{args.command} writes no file: drop -o/-c")
    if getattr(args, "jobs", 1) < 1:
        error("--jobs must be positive")


def run(args: argparse.Namespace, make_codec: Callable[[argparse.Namespace], FileCodec],
        setup_errors: tuple[type[Exception], ...]) -> int:
    """Build the codec (a model that cannot load is a failure of the run: 1; no model to use is a usage
    error: 2) and run ``args.command`` on ``args.inputs``."""
    setup_logging(args.verbose)
    try:
        codec = make_codec(args)
    except UsageError as err:
        log.error("%s", err)
        return EXIT_USAGE
    except setup_errors as err:
        log.error("%s", err)
        return EXIT_FAILED
    if args.command == "encode":
        return encode_files(codec, args)
    if args.command in ("decode", "test"):
        return decode_files(codec, args, write=args.command == "decode")
    return info_files(codec, args)


def main(parser: argparse.ArgumentParser, argv: list[str] | None,
         make_codec: Callable[[argparse.Namespace], FileCodec], setup_errors: tuple[type[Exception], ...]) -> int:
    """Parse the ``encode | decode | test | info`` form and :func:`run` it."""
    args = parser.parse_args(argv)
    check_args(args, parser.error)
    return run(args, make_codec, setup_errors)
