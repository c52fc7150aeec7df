"""``encode | decode | test | info`` over audio files, in the manner of ``flac``: what the toolkit's codecs share.

Each codec's command module builds a :class:`FileCodec` (its encode, decode and header functions, bound to
the loaded model and settings) and calls :func:`main`. One file that cannot be coded is reported and the
next one goes on; the exit status is 1 when any failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core.audio import AudioError, read_pcm, write_pcm
from trilobyte.core.cli import EXIT_FAILED, EXIT_OK, setup_logging
from trilobyte.core.container import ContainerError

log = logging.getLogger("trilobyte")
CONTAINERS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}


class FileCommandError(ValueError):
    """An output that cannot be written as asked, or a file whose decoded audio differs from its source."""


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


def for_each(inputs: list[Path], errors: tuple[type[Exception], ...], action: Callable[[Path], str]) -> int:
    """Run ``action`` on each file and print its line; a failing file is logged and the next one goes on."""
    status = EXIT_OK
    for path in inputs:
        try:
            print(action(path))
        except errors as err:
            log.error("%s: %s", path, err)
            status = EXIT_FAILED
    return status


def encode_files(codec: FileCodec, args: argparse.Namespace) -> int:
    def encode_one(path: Path) -> str:
        out = output_path(path, args.output, codec.suffix, args.force)
        samples, info = read_pcm(path)
        encoded = codec.encode(samples, info)
        write_atomic(out, encoded.data)
        seconds = info.num_samples / info.sample_rate
        rate = samples.size * info.bit_depth / encoded.payload_bits
        line = (f"{path}: wrote {len(encoded.data)} bytes ({encoded.payload_bits // 8} payload +"
                f" {encoded.container_bits // 8} container), rate {rate:.4f}")
        if codec.describe is not None:
            line += ", " + codec.describe(encoded, samples, info)
        line += f", encode {seconds / encoded.seconds:.3f}x realtime"
        if args.verify:
            start = time.perf_counter()
            decoded, _ = codec.decode(out.read_bytes())
            if decoded.shape != samples.shape or (decoded != samples).any():
                raise FileCommandError(f"{out}: verification failed: decoded audio differs from {path}")
            line += f"; verified ({seconds / (time.perf_counter() - start):.3f}x realtime)"
        return line

    return for_each(args.inputs, codec.all_errors, encode_one)


def decode_files(codec: FileCodec, args: argparse.Namespace, write: bool = True) -> int:
    def decode_one(path: Path) -> str:
        out = None
        if write:
            out = output_path(path, args.output, ".wav", args.force)
            if out.suffix.lower() not in CONTAINERS:
                raise FileCommandError(f"{out}: write .wav, .flac or .aiff")
        start = time.perf_counter()
        samples, info = codec.decode(path.read_bytes())
        speed = info.num_samples / info.sample_rate / (time.perf_counter() - start)
        if out is None:
            return f"{path}: ok, MD5 {info.pcm_md5} ({speed:.3f}x realtime)"
        write_pcm(out, samples, info.sample_rate, info.bit_depth, CONTAINERS[out.suffix.lower()])
        return f"{path}: wrote {out} ({info.bit_depth}-bit, {info.channels} ch, {speed:.3f}x realtime)"

    return for_each(args.inputs, codec.all_errors, decode_one)


def info_files(codec: FileCodec, args: argparse.Namespace) -> int:
    def info_one(path: Path) -> str:
        return f"{path}:\n{json.dumps(codec.header(path.read_bytes()), indent=1, sort_keys=True)}"

    return for_each(args.inputs, codec.all_errors, info_one)


def build_parser(prog: str, description: str, suffix: str, add_run_args: Callable[[argparse.ArgumentParser], None],
                 add_encode_args: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.ArgumentParser:
    """``encode``, ``decode``, ``test`` and ``info`` sub-commands with the codec's own run arguments."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help=f"audio files (WAV/FLAC/AIFF) -> {suffix}")
    add_run_args(enc)
    enc.add_argument("-o", "--output", type=Path, help=f"output file (one input only; default IN{suffix})")
    enc.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    enc.add_argument("--no-verify", dest="verify", action="store_false", help="skip decoding the written file")
    if add_encode_args is not None:
        add_encode_args(enc)
    dec = sub.add_parser("decode", help=f"{suffix} -> WAV (or FLAC/AIFF by the -o suffix)")
    add_run_args(dec)
    dec.add_argument("-o", "--output", type=Path, help="output file (one input only; default IN.wav)")
    dec.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    test = sub.add_parser("test", help=f"decode {suffix} files and check them; write nothing")
    add_run_args(test)
    info = sub.add_parser("info", help=f"print {suffix} headers")
    info.add_argument("inputs", type=Path, nargs="+", metavar="IN")
    for command in (enc, dec, test, info):
        command.add_argument("-v", "--verbose", action="store_true", help="debug messages")
    return parser


def main(parser: argparse.ArgumentParser, argv: list[str] | None,
         make_codec: Callable[[argparse.Namespace], FileCodec], setup_errors: tuple[type[Exception], ...]) -> int:
    """Parse, build the codec (a model that cannot load is a failure of the run: 1), run the command."""
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if getattr(args, "output", None) and len(args.inputs) > 1:
        parser.error("-o names one output: give one input")
    if getattr(args, "jobs", 1) < 1:
        parser.error("--jobs must be positive")
    try:
        codec = make_codec(args)
    except setup_errors as err:
        log.error("%s", err)
        return EXIT_FAILED
    if args.command == "encode":
        return encode_files(codec, args)
    if args.command in ("decode", "test"):
        return decode_files(codec, args, write=args.command == "decode")
    return info_files(codec, args)

