"""``python -m trilobyte encode|decode|test|info``: the Trilobyte codec on audio files, in the manner of ``flac``.

    python -m trilobyte encode --model M song.wav            # -> song.trb (decoded and checked by default)
    python -m trilobyte decode --model M song.trb            # -> song.wav (same rate, depth and channels)
    python -m trilobyte decode --model M song.trb -o x.flac  # FLAC (or .aiff) out by the suffix
    python -m trilobyte test --model M song.trb              # decode and check, write nothing
    python -m trilobyte info song.trb                        # the header, no model needed
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core import codec_cli
from trilobyte.core.codec_cli import FileCodec
from trilobyte.core.container import read_header
from trilobyte.gpt2.codec import PARALLEL, SUFFIX, CodecError, CodecSettings, decode, encode, get_model, stream_info
from trilobyte.gpt2.model import ModelError


def header(data: bytes) -> dict:
    found, _ = read_header(data)
    stream_info(found)  # a header that does not describe a stream is refused here too
    return found


def make_codec(args: argparse.Namespace) -> FileCodec:
    """The codec bound to the loaded model and the command's settings (``info`` needs no model)."""
    if args.command == "info":
        return FileCodec(SUFFIX, encode, decode, header, (CodecError, ModelError))
    loaded = get_model(args.model, args.device)
    settings = CodecSettings(getattr(args, "frame_samples", 4096), getattr(args, "group_frames", 16),
                             getattr(args, "threads", 1), getattr(args, "stride", None), args.device)

    def encode_file(samples: np.ndarray, info: Any) -> Any:
        return encode(samples, info.sample_rate, info.bit_depth, loaded, settings, args.jobs, args.parallel)

    def decode_file(data: bytes) -> tuple[np.ndarray, Any]:
        return decode(data, loaded, args.jobs, args.parallel)

    def describe(encoded: Any, samples: np.ndarray, info: Any) -> str:
        return f"{8 * encoded.info_bits / (samples.size * info.bit_depth):.4f} bits/byte by the model"

    return FileCodec(SUFFIX, encode_file, decode_file, header, (CodecError, ModelError), describe)


def add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="the model folder (the same one for every step)")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="IN")
    parser.add_argument("--jobs", type=int, default=1, help="groups of frames run at once (default: 1)")
    parser.add_argument(
        "--parallel", choices=PARALLEL, default="process", help="run groups in processes or threads (default)"
    )
    parser.add_argument("--device", default="cpu", help="torch device; decode on the encoder's kind (default: cpu)")


def add_encode_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frame-samples", type=int, default=4096, help="samples per frame (default: 4096)")
    parser.add_argument("--group-frames", type=int, default=16, help="frames computed as one batch (default: 16)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per group, fixed in the file (default 1)")
    parser.add_argument("--stride", type=int, default=None, help="tokens between windows (default: context/2)")


def main(argv: list[str] | None = None) -> int:
    parser = codec_cli.build_parser("python -m trilobyte", __doc__.splitlines()[0], SUFFIX, add_run_args,
                                        add_encode_args)
    return codec_cli.main(parser, argv, make_codec, (CodecError, ModelError, OSError))


if __name__ == "__main__":
    sys.exit(main())
