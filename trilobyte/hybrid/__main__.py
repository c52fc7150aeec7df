"""``python -m trilobyte.hybrid encode|decode|test|info``: the hybrid codec on audio files.

    python -m trilobyte.hybrid encode --model M song.wav     # -> song.trh (decoded and checked by default)
    python -m trilobyte.hybrid decode --model M song.trh     # -> song.wav (or -o x.flac / x.aiff)
    python -m trilobyte.hybrid test --model M song.trh       # decode and check, write nothing
    python -m trilobyte.hybrid info song.trh                 # the header, no model needed
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core import codec_cli
from trilobyte.core.codec_cli import FileCodec
from trilobyte.hybrid.codec import SUFFIX, CodecError, decode, encode, read_header
from trilobyte.hybrid.model import ModelError, get_model


def make_codec(args: argparse.Namespace) -> FileCodec:
    """The codec bound to the model folder and ``--jobs`` (``info`` needs no model)."""
    if args.command != "info":
        get_model(args.model)  # a folder that is not a hybrid model fails here, once

    def encode_file(samples: np.ndarray, info: Any) -> Any:
        return encode(samples, info.sample_rate, info.bit_depth, args.model, args.jobs)

    def decode_file(data: bytes) -> tuple[np.ndarray, Any]:
        return decode(data, args.model, args.jobs)

    return FileCodec(SUFFIX, encode_file, decode_file, read_header, (CodecError, ModelError))


def add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="the hybrid model folder")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="IN")
    parser.add_argument("--jobs", type=int, default=1, help="frames coded at once, in processes (default: 1)")


def main(argv: list[str] | None = None) -> int:
    parser = codec_cli.build_parser("python -m trilobyte.hybrid", __doc__.splitlines()[0], SUFFIX, add_run_args)
    return codec_cli.main(parser, argv, make_codec, (CodecError, ModelError, OSError))


if __name__ == "__main__":
    sys.exit(main())
