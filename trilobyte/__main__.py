"""``python -m trilobyte encode|decode|test|info``: the Trilobyte codec on audio files, in the manner of ``flac``.

    python -m trilobyte encode --model M song.wav            # -> song.trb (decoded and checked by default)
    python -m trilobyte decode --model M song.trb            # -> song.wav (same rate, depth and channels)
    python -m trilobyte decode --model M song.trb -o x.flac  # FLAC (or .aiff) out by the suffix
    python -m trilobyte test --model M song.trb              # decode and check, write nothing
    python -m trilobyte info song.trb                        # the header, no model needed
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from trilobyte.audio import AudioError, read_pcm, write_pcm
from trilobyte.cli import setup_logging
from trilobyte.codec import PARALLEL, SUFFIX, CodecError, CodecSettings, decode, encode, get_model, stream_info
from trilobyte.container import ContainerError, read_header
from trilobyte.model import ModelError

log = logging.getLogger("trilobyte")
CONTAINERS = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}
ERRORS = (CodecError, ContainerError, AudioError, ModelError, OSError)


def _output(path: Path, given: Path | None, suffix: str, force: bool) -> Path:
    out = given or path.with_suffix(suffix)
    if out.resolve() == path.resolve():
        raise CodecError(f"{out}: output would overwrite the input")
    if out.exists() and not force:
        raise CodecError(f"{out}: exists (use -f to overwrite)")
    return out


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def cmd_encode(args: argparse.Namespace) -> int:
    loaded = get_model(args.model, args.device)
    settings = CodecSettings(args.frame_samples, args.group_frames, args.threads, args.stride, args.device)
    status = 0
    for path in args.inputs:
        try:
            out = _output(path, args.output, SUFFIX, args.force)
            samples, info = read_pcm(path)
            encoded = encode(samples, info.sample_rate, info.bit_depth, loaded, settings, args.jobs, args.parallel)
            _write(out, encoded.data)
            raw_bytes = samples.size * info.bit_depth // 8
            seconds = info.num_samples / info.sample_rate
            line = (
                f"{path}: wrote {len(encoded.data)} bytes ({encoded.payload_bits // 8} payload +"
                f" {encoded.container_bits // 8} container), ratio {len(encoded.data) / raw_bytes:.4f} of raw PCM,"
                f" {encoded.info_bits / raw_bytes:.4f} bits/byte by the model,"
                f" encode {seconds / encoded.seconds:.3f}x realtime"
            )
            if args.verify:
                start = time.perf_counter()
                decoded, _ = decode(out.read_bytes(), loaded, args.jobs, args.parallel)
                if decoded.shape != samples.shape or (decoded != samples).any():
                    raise CodecError(f"{out}: verification failed: decoded audio differs from {path}")
                line += f"; verified ({seconds / (time.perf_counter() - start):.3f}x realtime)"
            print(line)
        except ERRORS as err:
            log.error("%s: %s", path, err)
            status = 1
    return status


def cmd_decode(args: argparse.Namespace, write: bool = True) -> int:
    loaded = get_model(args.model, args.device)
    status = 0
    for path in args.inputs:
        try:
            out = None
            if write:
                out = _output(path, args.output, ".wav", args.force)
                if out.suffix.lower() not in CONTAINERS:
                    raise CodecError(f"{out}: write .wav, .flac or .aiff")
            start = time.perf_counter()
            samples, info = decode(path.read_bytes(), loaded, args.jobs, args.parallel)
            speed = info.num_samples / info.sample_rate / (time.perf_counter() - start)
            if out is not None:
                write_pcm(out, samples, info.sample_rate, info.bit_depth, CONTAINERS[out.suffix.lower()])
                print(f"{path}: wrote {out} ({info.bit_depth}-bit, {info.channels} ch, {speed:.3f}x realtime)")
            else:
                print(f"{path}: ok, MD5 {info.pcm_md5} ({speed:.3f}x realtime)")
        except ERRORS as err:
            log.error("%s: %s", path, err)
            status = 1
    return status


def cmd_info(args: argparse.Namespace) -> int:
    status = 0
    for path in args.inputs:
        try:
            header, _ = read_header(path.read_bytes())
            stream_info(header)
            print(f"{path}:\n{json.dumps(header, indent=1, sort_keys=True)}")
        except (ContainerError, OSError) as err:
            log.error("%s: %s", path, err)
            status = 1
    return status


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="the model folder (the same one for every step)")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="IN")
    parser.add_argument("--jobs", type=int, default=1, help="groups of frames run at once (default: 1)")
    parser.add_argument(
        "--parallel", choices=PARALLEL, default="process", help="run groups in processes or threads (default)"
    )
    parser.add_argument("--device", default="cpu", help="torch device; decode on the encoder's kind (default: cpu)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug messages")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trilobyte", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="audio files (WAV/FLAC/AIFF) -> .trb")
    _add_run_args(enc)
    enc.add_argument("-o", "--output", type=Path, help="output file (one input only; default IN.trb)")
    enc.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    enc.add_argument("--no-verify", dest="verify", action="store_false", help="skip decoding the written file")
    enc.add_argument("--frame-samples", type=int, default=4096, help="samples per frame (default: 4096)")
    enc.add_argument("--group-frames", type=int, default=16, help="frames computed as one batch (default: 16)")
    enc.add_argument("--threads", type=int, default=1, help="torch threads per group, fixed in the file (default 1)")
    enc.add_argument("--stride", type=int, default=None, help="tokens between windows (default: context/2)")
    dec = sub.add_parser("decode", help=".trb -> WAV (or FLAC/AIFF by the -o suffix)")
    _add_run_args(dec)
    dec.add_argument("-o", "--output", type=Path, help="output file (one input only; default IN.wav)")
    dec.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    test = sub.add_parser("test", help="decode .trb files and check them; write nothing")
    _add_run_args(test)
    info = sub.add_parser("info", help="print .trb headers")
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
