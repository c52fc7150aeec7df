"""Neural audio codecs + Rice-coded residuals (the paper's Appendix B), coded and verified bit-exactly.

    python -m baselines.nac --codec dac|encodec|custom-dac --weights PATH [--codebooks N] [--dataset D] [--out DIR]
    python -m baselines.nac train --dataset D --preset cpu --steps N --out DIR      (Custom DAC)
    python -m baselines.nac encode --codec C --weights PATH IN.wav OUT.tnac [IN OUT ...]
    python -m baselines.nac decode --codec C --weights PATH IN.tnac OUT.wav [IN OUT ...]

Each file goes through :class:`baselines.nac.codec.NacCodec` (codes, reconstruction, integer residual,
partitioned Rice), is decoded again and compared bit-exactly ("coded"). The size counts everything in
the stream (:mod:`baselines.nac.stream`): header, codes at ceil(log2(codebook size)) bits each, the
per-block float16 gains (EnCodec's scale; DAC's level normalization), the Rice sections and byte
padding; each file's row splits it up and also gives the codes at exactly log2(codebook size) bits.
The model's weights are shared, not counted (its parameters and bytes are in the result). ``flac -8``
runs beside on the same files (``--no-with-flac`` drops it), through :mod:`baselines.flac.frames` so
its residual histogram is saved too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baselines import residuals
from baselines.flac.codec import FlacSettings
from baselines.flac.frames import FlacFramesCoder
from baselines.nac.codec import DEFAULT_BLOCK_SECONDS
from baselines.nac.coder import PACKAGES, NacCoder, NacSettings, get_codec
from baselines.nac.configs import NacError
from baselines.nac.models import CODECS, load_model
from baselines.nac.stream import NacStreamError
from trilobyte.core.datasets import DEMO_NATIVE, Dataset
from trilobyte.core.protocol import RateResult
from trilobyte.core.table import Col, failed, where

log = logging.getLogger("trilobyte.nac")


def _code_share(r: RateResult) -> float:
    """Percent of the coded bits spent on the codec's codes (the rest: the Rice-coded residual)."""
    return 100 * sum(f.extra.get("bits", {}).get("codes", 0) for f in r.ok_files) / max(1, r.compressed_bits)


def _encode_xrt(r: RateResult) -> float | None:
    enc = sum(f.extra.get("encode_seconds", 0.0) for f in r.ok_files)
    return r.audio_seconds / enc if enc else r.xrealtime


COLUMNS = (
    Col("dataset", where), Col("method", lambda r: r.method), Col("config", lambda r: r.config_name[:35]),
    Col("rate", lambda r: r.rate, ".4f"),
    Col("mean|r|", lambda r: (r.extra.get("residual_histogram") or residuals.from_rows(r.files) or {}).get("mean_abs"),
        ".1f"),
    Col("codes%", _code_share, ".2f"), Col("xRT enc", _encode_xrt, ".2f"), Col("failed", failed, "d"),
)


# ------------------------------------------------------------------------------------------ CLI


def _add_codec_args(parser: argparse.ArgumentParser, with_pipeline: bool = True) -> None:
    g = parser.add_argument_group("codec")
    g.add_argument("--codec", required=True, choices=CODECS, help="which neural codec")
    g.add_argument("--weights", default=None, metavar="PATH",
                   help="a transformers model folder, an original checkpoint file, or a trained Custom DAC folder")
    if with_pipeline:
        g.add_argument("--codebooks", type=int, default=None,
                       help="codebooks used (default: 3 for dac, 4 for encodec, all for custom-dac)")
        g.add_argument("--block-seconds", type=float, default=DEFAULT_BLOCK_SECONDS,
                       help="seconds of audio per model call (default: %(default)s)")
        g.add_argument("--resample", choices=["model", "none"], default="model",
                       help="'model': resample the model's input to its rate and the reconstruction back; "
                            "'none': run the model at the file's rate (default: model)")
        g.add_argument("--no-normalize", dest="normalize", action="store_false",
                       help="DAC models: no per-block gain (EnCodec follows its own config)")


def _settings(args: argparse.Namespace) -> NacSettings:
    if args.weights is None:
        load_model(args.codec, None)  # raises the message that says what --weights takes
    return NacSettings(args.codec, str(Path(args.weights).expanduser().resolve()), args.codebooks,
                       args.block_seconds, args.resample == "model", args.normalize)


def run_datasets(argv: Sequence[str]) -> int:
    from trilobyte.core.cli import add_common_args, run_main, setup_logging
    from trilobyte.core.results import ResultStore, Shard
    from trilobyte.core.runner import run_file_coders

    parser = argparse.ArgumentParser(prog="python -m baselines.nac", description=__doc__.splitlines()[0])
    _add_codec_args(parser)
    parser.add_argument("--with-flac", action=argparse.BooleanOptionalAction, default=True,
                        help="run flac -8 on the same files beside it (default: on)")
    add_common_args(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if args.device != "cpu":
        parser.error("the NAC baselines run on the CPU: encoder and decoder must compute the same floats,"
                     " which is what is tested (one thread, deterministic kernels)")
    try:
        shard = Shard.parse(args.shard)
        coder = NacCoder(_settings(args))
        coder.config()  # loads the model: a bad --weights fails here, once
    except (ValueError, OSError) as err:
        log.error("%s", err)
        return 2
    coders: list[Any] = [coder]
    if args.with_flac:
        coders.insert(0, FlacFramesCoder(FlacSettings(8)))
    store = ResultStore(args.out)

    def run_one(dataset: Dataset) -> list[RateResult]:
        return run_file_coders(coders, dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                               progress=not args.no_progress, packages=PACKAGES)

    footer = f"\nevery file decoded and compared bit-exactly; results in {Path(args.out)}"
    return run_main(args, args.dataset or list(DEMO_NATIVE), run_one, COLUMNS, footer)


def file_main(argv: Sequence[str]) -> int:
    """``encode IN OUT [IN OUT ...]`` / ``decode IN OUT [...]``: files through the codec, one process.

    Decoding needs only the streams and the weights (codebooks, block layout and resampling are in
    each stream's header).
    """
    from trilobyte.core import audio

    command, rest = argv[0], list(argv[1:])
    parser = argparse.ArgumentParser(prog=f"python -m baselines.nac {command}",
                                     description=f"{command} files with a neural codec + Rice residual")
    _add_codec_args(parser, with_pipeline=command == "encode")
    parser.add_argument("paths", nargs="+", type=Path, metavar="IN OUT", help="input and output, in pairs")
    args = parser.parse_args(rest)
    if len(args.paths) % 2:
        parser.error("give input and output paths in pairs")
    pairs = list(zip(args.paths[::2], args.paths[1::2], strict=True))
    try:
        if command == "encode":
            codec = get_codec(_settings(args))
        else:
            if args.weights is None:
                load_model(args.codec, None)
            codec = get_codec(NacSettings(args.codec, str(Path(args.weights).expanduser().resolve())))
        for source, target in pairs:
            if command == "encode":
                samples, info = audio.read_pcm(source)
                enc = codec.encode(samples, info.sample_rate, info.bit_depth)
                target.write_bytes(enc.data)
                rate = samples.size * info.bit_depth / (8 * len(enc.data))
                print(f"{source}: {8 * len(enc.data)} bits, rate {rate:.4f}"
                      f" ({', '.join(f'{k} {v}' for k, v in enc.bits.items())})")
            else:
                samples, rate, depth = codec.decode(source.read_bytes())
                audio.write_pcm(target, samples, rate, depth)
    except (NacError, NacStreamError, audio.AudioError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "train":
        from baselines.nac.train import main as train_main

        return train_main(argv[1:])
    if argv and argv[0] in ("encode", "decode"):
        return file_main(argv)
    return run_datasets(argv)


if __name__ == "__main__":
    sys.exit(main())
