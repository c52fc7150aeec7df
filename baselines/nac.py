"""Neural audio codecs + Rice-coded residuals (the paper's Appendix B), coded and verified bit-exactly.

    python -m baselines.nac --codec dac|encodec|custom-dac --weights PATH [--codebooks N] [--dataset D] [--out DIR]
    python -m baselines.nac train --dataset D --preset cpu --steps N --out DIR      (Custom DAC)
    python -m baselines.nac encode --codec C --weights PATH IN.wav OUT.tnac [IN OUT ...]
    python -m baselines.nac decode --codec C --weights PATH IN.tnac OUT.wav [IN OUT ...]

Each file goes through :class:`baselines.nac_codec.NacCodec` (codes, reconstruction, integer residual,
partitioned Rice), is decoded again and compared bit-exactly ("coded"). The size counts everything in
the stream (:mod:`baselines.nac_stream`): header, codes at ceil(log2(codebook size)) bits each, the
per-block float16 gains (EnCodec's scale; DAC's level normalization), the Rice sections and byte
padding; each file's row splits it up and also gives the codes at exactly log2(codebook size) bits.
The model's weights are shared, not counted (its parameters and bytes are in the result). ``flac -8``
runs beside on the same files (``--no-with-flac`` drops it), through :mod:`baselines.flac_frames` so
its residual histogram is saved too.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines import residuals
from baselines.flac_codec import FlacSettings
from baselines.flac_frames import FlacFramesCoder, attach_histogram
from baselines.nac_codec import DEFAULT_BLOCK_SECONDS, NacCodec
from baselines.nac_models import CODECS, NacError, deterministic_torch, load_model
from baselines.nac_stream import MAX_PARTITION_ORDER, RICE_BLOCK, VERSION, NacStreamError
from trilobyte.datasets import DEMO_NATIVE, AudioClip, Dataset
from trilobyte.protocol import FileRate, RateResult

log = logging.getLogger("trilobyte.nac")
PACKAGES = ("torch", "transformers", "numba", "pyflac")


class LosslessError(AssertionError):
    """A decoded stream differs from the audio that was encoded."""


@dataclass(frozen=True)
class NacSettings:
    """What a NAC run needs: the codec, its weights, and the pipeline's settings."""

    codec: str
    weights: str
    codebooks: int | None = None
    block_seconds: float = DEFAULT_BLOCK_SECONDS
    resample: bool = True
    normalize: bool = True


@functools.lru_cache(maxsize=4)
def get_codec(settings: NacSettings) -> NacCodec:
    """The loaded codec for these settings, once per process (one torch thread, deterministic kernels)."""
    deterministic_torch(1)
    model = load_model(settings.codec, settings.weights)
    return NacCodec(model, settings.codebooks, settings.block_seconds, settings.resample, settings.normalize)


@dataclass(frozen=True)
class NacCoder:
    """One NAC configuration as a per-file coder (coded: every file decoded and compared)."""

    settings: NacSettings
    mode: str = "coded"

    @property
    def name(self) -> str:
        return f"nac-{self.settings.codec}"

    @property
    def codec(self) -> NacCodec:
        return get_codec(self.settings)

    def config(self) -> dict[str, Any]:
        c, m = self.codec, self.codec.model
        return {
            "codec": self.settings.codec,
            "weights": Path(self.settings.weights).name,
            "weights_origin": m.origin.get("origin"),
            "model_fingerprint": c.fingerprint,
            "codebooks": c.codebooks,
            "codebook_size": m.codebook_size,
            "code_bits": c.width,
            "model_sample_rate": m.sample_rate,
            "model_channels": m.channels,
            "hop_length": m.hop_length,
            "block_seconds": c.block_seconds,
            "target_rms": c.target_rms,
            "resample": "to the model's rate and back" if c.resample_to_model else "none (at the file's rate)",
            "rice_block": RICE_BLOCK,
            "max_partition_order": MAX_PARTITION_ORDER,
            "format_version": VERSION,
        }

    def config_name(self) -> str:
        c = self.codec
        origin = "random" if c.model.origin.get("origin") == "random-init" else "w"
        resample = "rs" if c.resample_to_model else "native"
        gain = "" if c.target_rms is not None or c.model.kind == "encodec" else "_nogain"
        return f"{origin}-{c.fingerprint[:8]}_q{c.codebooks}_b{c.block_seconds:g}s_{resample}{gain}"

    def result_extra(self) -> dict[str, Any]:
        m = self.codec.model
        extra = {
            "weights_origin": m.origin,
            "accounting": "compressed_bits = the whole stream: 29-byte header, codes at ceil(log2 K) bits, "
                          "float16 block gains (when normalizing), Rice sections, byte padding; each row's "
                          "extra['bits'] splits it, and extra['code_bits_exact'] counts codes at log2 K",
            "determinism": "1 torch thread, deterministic kernels, same block shapes in encoder and decoder",
            "residual_histogram_bins": "baselines.residuals.EDGES",
        }
        if m.origin.get("origin") == "random-init":
            extra["note"] = "randomly initialised weights: a pipeline check, not the codec's rate"
        return extra

    def code_file(self, clip: AudioClip) -> FileRate:
        codec = self.codec
        start = time.perf_counter()
        enc = codec.encode(clip.samples, clip.sample_rate, clip.bit_depth)
        encoded = time.perf_counter()
        decoded, rate, depth = codec.decode(enc.data)
        done = time.perf_counter()
        if rate != clip.sample_rate or depth != clip.bit_depth or not np.array_equal(decoded, clip.samples):
            raise LosslessError(f"{clip.id}: NAC round trip is not bit-exact")
        hist = residuals.histogram(enc.residual)
        return FileRate.for_clip(
            clip,
            8 * len(enc.data),
            seconds=done - start,
            extra={
                "bits": enc.bits,
                "code_bits_exact": enc.code_bits_exact,
                "encode_seconds": encoded - start,
                "decode_seconds": done - encoded,
                "model_seconds": enc.seconds["model"],
                "residual_histogram": residuals.compact(hist),
            },
        )


def finish_result(result: RateResult, coder: Any, store: Any, dataset_key: str) -> None:
    """Add the merged residual histogram (and the model's size) to a stored result."""
    if isinstance(coder, NacCoder) and result.model_parameters is None:
        result.model_parameters = coder.codec.model.parameters
        result.model_bytes = coder.codec.model.weight_bytes
        result.extra["residual_histogram"] = residuals.from_rows(result.files)
        store.write(result, dataset_key)
    elif isinstance(coder, FlacFramesCoder):
        attach_histogram(result, store, dataset_key)


def format_table(rows: list[tuple[str, RateResult]]) -> str:
    lines = [f"{'dataset':<24}{'method':<16}{'config':<36}{'rate':>8}{'mean|r|':>10}{'codes%':>8}{'xRT enc':>9}"]
    for key, r in rows:
        hist = r.extra.get("residual_histogram") or residuals.from_rows(r.files) or {}
        code_bits = sum(f.extra.get("bits", {}).get("codes", 0) for f in r.ok_files)
        enc = sum(f.extra.get("encode_seconds", 0.0) for f in r.ok_files)
        xrt = r.audio_seconds / enc if enc else r.xrealtime
        rate = f"{r.rate:8.4f}" if r.rate else f"{'-':>8}"
        lines.append(f"{key:<24}{r.method:<16}{r.config_name[:35]:<36}{rate}{hist.get('mean_abs') or 0:10.1f}"
                     f"{100 * code_bits / max(1, r.compressed_bits):8.2f}{xrt or 0:9.2f}"
                     + (f"  ({len(r.failures)} failed)" if r.failures else ""))
    return "\n".join(lines)


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


def run_main(argv: Sequence[str]) -> int:
    from trilobyte.cli import add_common_args, run_file_coders, run_over_datasets, setup_logging
    from trilobyte.results import ResultStore, Shard

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
    rows: list[tuple[str, RateResult]] = []

    def run_one(dataset: Dataset) -> list[RateResult]:
        results = run_file_coders(coders, dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                                  progress=not args.no_progress, packages=PACKAGES)
        for c, result in zip(coders, results, strict=True):
            finish_result(result, c, store, dataset.key)
            rows.append((dataset.key, result))
        return results

    try:
        _, status = run_over_datasets(args, args.dataset or list(DEMO_NATIVE), run_one)
    except KeyboardInterrupt:
        print(format_table(rows))
        return 130
    if rows:
        print(format_table(rows))
        print(f"\nevery file decoded and compared bit-exactly; results in {Path(args.out)}")
    return status


def file_main(argv: Sequence[str]) -> int:
    """``encode IN OUT [IN OUT ...]`` / ``decode IN OUT [...]``: files through the codec, one process.

    Decoding needs only the streams and the weights (codebooks, block layout and resampling are in
    each stream's header).
    """
    from trilobyte import audio

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
        from baselines.nac_train import main as train_main

        return train_main(argv[1:])
    if argv and argv[0] in ("encode", "decode"):
        return file_main(argv)
    return run_main(argv)


if __name__ == "__main__":
    sys.exit(main())
