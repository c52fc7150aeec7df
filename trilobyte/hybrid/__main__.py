"""``trilobyte-hybrid`` (also ``python -m trilobyte.hybrid``): the hybrid codec on audio files, like ``flac``.

    trilobyte-hybrid song.wav                    # -> song.trh (decoded and checked before it is kept)
    trilobyte-hybrid -d song.trh                 # -> song.wav (or -o song.flac / song.aiff)
    trilobyte-hybrid -t song.trh                 # decode and check against the stored MD5, write nothing
    cat song.wav | trilobyte-hybrid - > x.trh    # - reads standard input and writes standard output
    trilobyte-hybrid -d - < x.trh > y.wav

The older form takes a command first and keeps working:
``python -m trilobyte.hybrid encode|decode|test|info [options] FILE...`` (``info`` prints a file's header).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core import codec_cli
from trilobyte.core.codec_cli import FileCodec, UsageError
from trilobyte.hybrid.codec import CHAIN, DEFAULT_PRESET, PRESETS, SUFFIX, CodecError, decode, encode, read_header
from trilobyte.hybrid.defaults import NoDefaultModel, resolve_model
from trilobyte.hybrid.model import ModelError, get_model

COMMANDS = ("encode", "decode", "test", "info")
PROG = "trilobyte-hybrid"
EPILOG = f"""examples:
  {PROG} song.wav                  song.wav -> song.trh
  {PROG} -d song.trh               song.trh -> song.wav (-o song.flac or -o song.aiff for those)
  {PROG} -t song.trh               decode and check, write nothing
  cat song.wav | {PROG} - > x.trh  - reads standard input; then the output goes to standard output
  {PROG} -d - < x.trh > y.wav
  {PROG} -c song.flac | ...        -c writes to standard output

Input: WAV, AIFF or FLAC (FLAC through libFLAC), 8, 16 or 24-bit integer PCM, mono or stereo. FLAC's other
depths up to 24 bits are coded in the next of 8, 16 and 24 bits with each sample left-justified (as flac -d
writes them into WAV files), and decode to that. Anything else (float or 32-bit audio, more channels) is
refused with the reason. Without --model the
model installed with the package is used; a .trh file decodes only with the model that wrote it.
The older form, a command first, works too (info prints a file's header):
  python -m trilobyte.hybrid encode|decode|test|info [options] FILE...
Exit status: 0 when every file was coded (and checked), 1 when any failed, 2 for a usage error."""


def make_codec(args: argparse.Namespace) -> FileCodec:
    """The codec bound to the model folder (``--model`` or the installed default), ``--jobs`` and
    ``--preset`` (``info`` needs no model)."""
    directory = None
    if args.command != "info":
        try:
            directory = resolve_model(args.model)
        except NoDefaultModel as err:
            raise UsageError(str(err)) from err
        get_model(directory)  # a folder that is not a hybrid model fails here, once
    preset = getattr(args, "preset", DEFAULT_PRESET)

    def encode_file(samples: np.ndarray, info: Any) -> Any:
        return encode(samples, info.sample_rate, info.bit_depth, directory, args.jobs, preset)

    def decode_file(data: bytes) -> tuple[np.ndarray, Any]:
        return decode(data, directory, args.jobs)

    return FileCodec(SUFFIX, encode_file, decode_file, read_header, (CodecError, ModelError))


def add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, nargs="+", metavar="FILE",
                        help=f"audio (WAV/AIFF/FLAC) to encode, or {SUFFIX} files to decode; - for standard input")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="the hybrid model folder (default: the model installed with the package)")
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help=f"frames encoded (chains of {CHAIN} frames decoded) at once, in processes (default: 1)")


def add_encode_args(parser: argparse.ArgumentParser) -> None:
    choices = "; ".join(f"{name}: {what}" for name, what in PRESETS.items())
    parser.add_argument("--preset", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                        help=f"what the encoder tries (default: {DEFAULT_PRESET}; every preset writes the same"
                             f" format) - {choices}")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The command-first form when ``argv`` starts with a command, else the form that works like ``flac``."""
    if argv and argv[0] in COMMANDS:
        return codec_cli.build_parser("python -m trilobyte.hybrid", __doc__.splitlines()[0], SUFFIX, add_run_args,
                                      add_encode_args)
    description = "Lossless audio coding with the hybrid coder (an integer cascade and a small network)."
    return codec_cli.build_flac_parser(PROG, description, SUFFIX, add_run_args, add_encode_args, EPILOG)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return codec_cli.main(build_parser(argv), argv, make_codec, (CodecError, ModelError, OSError))


if __name__ == "__main__":
    sys.exit(main())
