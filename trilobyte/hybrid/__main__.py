"""``python -m trilobyte.hybrid encode|decode|test|info``: the hybrid codec on audio files.

    python -m trilobyte.hybrid encode --model M song.wav     # -> song.trh (decoded and checked by default)
    python -m trilobyte.hybrid decode --model M song.trh     # -> song.wav (or -o x.flac / x.aiff)
    python -m trilobyte.hybrid test --model M song.trh       # decode and check, write nothing
    python -m trilobyte.hybrid info song.trh                 # the header, no model needed
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from trilobyte.__main__ import CONTAINERS
from trilobyte.audio import AudioError, read_pcm, write_pcm
from trilobyte.cli import setup_logging
from trilobyte.container import ContainerError
from trilobyte.hybrid.codec import SUFFIX, CodecError, decode, encode, read_header
from trilobyte.hybrid.model import ModelError

log = logging.getLogger("trilobyte.hybrid")
ERRORS = (CodecError, ContainerError, AudioError, ModelError, OSError)


def output_path(path: Path, given: Path | None, suffix: str, force: bool) -> Path:
    out = given or path.with_suffix(suffix)
    if out.resolve() == path.resolve():
        raise CodecError(f"{out}: output would overwrite the input")
    if out.exists() and not force:
        raise CodecError(f"{out}: exists (use -f to overwrite)")
    return out


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def cmd_encode(args: argparse.Namespace) -> int:
    status = 0
    for path in args.inputs:
        try:
            out = output_path(path, args.output, SUFFIX, args.force)
            samples, info = read_pcm(path)
            encoded = encode(samples, info.sample_rate, info.bit_depth, args.model, args.jobs)
            write_atomic(out, encoded.data)
            raw_bits = samples.size * info.bit_depth
            seconds = info.num_samples / info.sample_rate
            line = (
                f"{path}: wrote {len(encoded.data)} bytes ({encoded.payload_bits // 8} payload +"
                f" {encoded.container_bits // 8} container), rate {raw_bits / encoded.payload_bits:.4f},"
                f" encode {seconds / encoded.seconds:.2f}x realtime"
            )
            if args.verify:
                start = time.perf_counter()
                decoded, _ = decode(out.read_bytes(), args.model, args.jobs)
                if decoded.shape != samples.shape or (decoded != samples).any():
                    raise CodecError(f"{out}: verification failed: decoded audio differs from {path}")
                line += f"; verified ({seconds / (time.perf_counter() - start):.2f}x realtime)"
            print(line)
        except ERRORS as err:
            log.error("%s: %s", path, err)
            status = 1
    return status


def cmd_decode(args: argparse.Namespace, write: bool = True) -> int:
    status = 0
    for path in args.inputs:
        try:
            out = None
            if write:
                out = output_path(path, args.output, ".wav", args.force)
                if out.suffix.lower() not in CONTAINERS:
                    raise CodecError(f"{out}: write .wav, .flac or .aiff")
            start = time.perf_counter()
            samples, info = decode(path.read_bytes(), args.model, args.jobs)
            speed = info.num_samples / info.sample_rate / (time.perf_counter() - start)
            if out is not None:
                write_pcm(out, samples, info.sample_rate, info.bit_depth, CONTAINERS[out.suffix.lower()])
                print(f"{path}: wrote {out} ({info.bit_depth}-bit, {info.channels} ch, {speed:.2f}x realtime)")
            else:
                print(f"{path}: ok, MD5 {info.pcm_md5} ({speed:.2f}x realtime)")
        except ERRORS as err:
            log.error("%s: %s", path, err)
            status = 1
    return status


def cmd_info(args: argparse.Namespace) -> int:
    status = 0
    for path in args.inputs:
        try:
            header = read_header(path.read_bytes())
            print(f"{path}:\n{json.dumps(header, indent=1, sort_keys=True)}")
        except (ContainerError, OSError) as err:
            log.error("%s: %s", path, err)
            status = 1
    return status


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="the hybrid model folder")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="IN")
    parser.add_argument("--jobs", type=int, default=1, help="frames coded at once, in processes (default: 1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug messages")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trilobyte.hybrid", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="audio files (WAV/FLAC/AIFF) -> .trh")
    _add_run_args(enc)
    enc.add_argument("-o", "--output", type=Path, help="output file (one input only; default IN.trh)")
    enc.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    enc.add_argument("--no-verify", dest="verify", action="store_false", help="skip decoding the written file")
    dec = sub.add_parser("decode", help=".trh -> WAV (or FLAC/AIFF by the -o suffix)")
    _add_run_args(dec)
    dec.add_argument("-o", "--output", type=Path, help="output file (one input only; default IN.wav)")
    dec.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    test = sub.add_parser("test", help="decode .trh files and check them; write nothing")
    _add_run_args(test)
    info = sub.add_parser("info", help="print .trh headers")
    info.add_argument("inputs", type=Path, nargs="+", metavar="IN")
    info.add_argument("-v", "--verbose", action="store_true", help="debug messages")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if getattr(args, "output", None) and len(args.inputs) > 1:
        parser.error("-o names one output: give one input")
    if getattr(args, "jobs", 1) < 1:
        parser.error("--jobs must be positive")
    try:
        if args.command == "encode":
            return cmd_encode(args)
        if args.command == "decode":
            return cmd_decode(args)
        if args.command == "test":
            return cmd_decode(args, write=False)
        return cmd_info(args)
    except (CodecError, ModelError) as err:
        log.error("%s", err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
