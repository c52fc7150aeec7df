"""Trilobyte's ideal rate: ``python -m trilobyte.estimate --model DIR --dataset D --split test``.

Each file's cost is the sum of -log2 p over every real byte (sample-level models: every sample) of
every channel, under a trained model, channels in file order. Windows of the model's context start
every ``--stride`` tokens and score only the tokens the previous window did not, so context carries
across window edges; the first byte of a file is scored too, conditioned on BOS. NULL (masked low
bytes of shallower audio) and PAD are never scored. A file's ``compressed_bits`` is that sum rounded
up; the exact sum and the bits per byte position (MSB, middle, LSB) are in each row's ``extra``, and
their totals in the result's ``extra``. The result's mode is "ideal".

With ``--coded`` each file is compressed by the real codec (:mod:`trilobyte.gpt2.codec`: independent frames
of ``--frame-samples``, range-coded), decoded again and compared sample for sample; the result's mode is
"coded". A row's ``compressed_bits`` is then the frames' payloads and their lengths, ``container_bits``
the rest of the file (header, checksums, seek table), and ``extra`` holds the ideal bits of the same
frames beside the coded ones.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from trilobyte.core.cli import EXIT_USAGE, add_common_args, parse_shard, run_main, setup_logging
from trilobyte.core.datasets import AudioClip, Dataset, DatasetError
from trilobyte.core.leakage import LeakageError, check_evaluation
from trilobyte.core.protocol import FileRate, RateResult
from trilobyte.core.results import ResultStore, safe_name
from trilobyte.core.runner import estimate_with_runner, run_file_coders
from trilobyte.core.table import Col, failed, where
from trilobyte.gpt2.model import ModelError, ModelInfo, load_model, read_info, weights_bytes, weights_digest
from trilobyte.gpt2.report import trilobyte_report
from trilobyte.gpt2.scoring import check_stride, default_stride, score_clip
from trilobyte.gpt2.tokenize import ClipTokens, TokenizeError

log = logging.getLogger("trilobyte.gpt2.estimate")
METHOD = "trilobyte"
PACKAGES = ("torch", "transformers", "safetensors")
DTYPES = ("fp32", "bf16")
_LOADED: dict[tuple[str, str], Any] = {}


def cached_model(directory: Path, device: str, threads: int | None = None) -> Any:
    """One loaded model per (folder, device) in each process."""
    key = (str(Path(directory).resolve()), device)
    if key not in _LOADED:
        if threads:
            import torch

            torch.set_num_threads(threads)
        _LOADED[key] = load_model(directory, device)[0]
    return _LOADED[key]


@dataclass(frozen=True)
class TrilobyteRate:
    """A trained Trilobyte model as a per-file ideal-rate estimator (a ``FileCoder`` in mode "ideal")."""

    model_dir: Path
    stride: int | None = None
    batch_size: int = 8
    device: str = "cpu"
    dtype: str = "fp32"
    threads: int | None = None  # torch CPU threads in each worker (not part of the result's config)
    coded: bool = False  # compress, decode and compare every file with the real codec
    frame_samples: int = 4096  # coded mode: samples per frame
    group_frames: int = 16  # coded mode: frames computed as one batch
    allow_trained_clips: bool = True  # False: refuse a dataset holding clips the model was trained on (the CLI)
    name: str = METHOD
    mode: str = field(default="ideal", init=False)
    leakage: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_dir", Path(self.model_dir).expanduser())
        object.__setattr__(self, "mode", "coded" if self.coded else "ideal")
        if self.coded and self.dtype != "fp32":
            raise ValueError("the codec computes in float32: --coded takes no --dtype")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, not {self.dtype!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be positive, not {self.batch_size}")
        check_stride(self.window_stride, self.info.context, self.info.settings)

    @cached_property
    def info(self) -> ModelInfo:
        return read_info(self.model_dir)

    @cached_property
    def digest(self) -> str:
        return weights_digest(self.model_dir)

    @property
    def window_stride(self) -> int:
        return self.stride or default_stride(self.info.context, self.info.settings)

    def config(self) -> dict[str, Any]:
        info = self.info
        return {
            "model": self.model_dir.name,
            "weights_sha256_16": self.digest,
            "preset": info.preset,
            "parameters": info.parameters,
            "context": info.context,
            "stride": self.window_stride,
            "dtype": self.dtype,
            "tokenizer": info.settings.to_dict(),
            "trained_on": [d.get("name") for d in info.training.get("datasets", [])],
            "train_steps": info.training.get("steps"),
            **({"coded": self.codec_settings().__dict__ | {"device": None}} if self.coded else {}),
        }

    def codec_settings(self) -> Any:
        from trilobyte.gpt2.codec import CodecSettings

        return CodecSettings(self.frame_samples, self.group_frames, 1, self.window_stride, self.device)

    def config_name(self) -> str:
        dtype = "" if self.dtype == "fp32" else f"-{self.dtype}"
        label = f"{self.model_dir.name}-{self.digest[:8]}-ctx{self.info.context}-stride{self.window_stride}"
        coded = f"-coded-f{self.frame_samples}-g{self.group_frames}" if self.coded else ""
        return safe_name(label + dtype + coded)

    def report_columns(self) -> tuple[str, ...]:
        """Standard (sample tokens), Transfer (one model over several datasets, or low bytes masked) or Trilobyte."""
        return trilobyte_report(self.config())[0]

    def report_label(self) -> str:
        return trilobyte_report(self.config())[1]

    def check_dataset(self, dataset: Dataset) -> None:
        """Refuse, before any work, a dataset none of whose clips the model can take, or one it was trained on
        (unless allowed); single clips of a depth the model cannot take become failed rows."""
        self.leakage[dataset.fingerprint] = check_evaluation(self.info.training, dataset, self.model_dir,
                                                             self.allow_trained_clips)
        settings = self.info.settings
        refused = []
        for ref in dataset.refs:
            if ref.error:
                continue
            try:
                settings.check_depth(dataset.evaluated_depth(ref))
            except TokenizeError as err:
                refused.append(f"{dataset.name}: {ref.id}: {err}")
            else:
                return  # a file the model cannot take is that file's failed row (code_file refuses it)
        if refused:
            raise DatasetError(refused[0] + (f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""))

    def autocast_dtype(self) -> Any:
        import torch

        return torch.bfloat16 if self.dtype == "bf16" else None

    def code_file(self, clip: AudioClip) -> FileRate:
        self.info.settings.check_depth(clip.bit_depth)
        if self.coded:
            return self.code_file_coded(clip)
        start = time.perf_counter()
        settings = self.info.settings
        model = cached_model(self.model_dir, self.device, self.threads)
        tokens = ClipTokens.from_samples(clip.samples, clip.bit_depth, settings)
        score = score_clip(
            model,
            tokens,
            self.info.context,
            self.window_stride,
            batch_size=self.batch_size,
            device=self.device,
            autocast_dtype=self.autocast_dtype(),
        )
        names = settings.slot_names(clip.bit_depth)
        bits = score.total_bits
        extra = {
            "ideal_bits": bits,
            "bits_by_position": {n: float(score.bits[i]) for i, n in enumerate(names)},
            "tokens_by_position": {n: int(score.counts[i]) for i, n in enumerate(names)},
            "bits_per_token": settings.bits_per_token(clip.bit_depth),
        }
        return FileRate.for_clip(clip, math.ceil(bits), seconds=time.perf_counter() - start, extra=extra)

    def code_file_coded(self, clip: AudioClip) -> FileRate:
        """Encode with the real codec, decode, compare every sample; count the file's bits."""
        from trilobyte.gpt2 import codec

        start = time.perf_counter()
        loaded = codec.get_model(self.model_dir, self.device)
        encoded = codec.encode(clip.samples, clip.sample_rate, clip.bit_depth, loaded, self.codec_settings())
        decoded, _ = codec.decode(encoded.data, loaded)
        if decoded.shape != clip.samples.shape or not (decoded == clip.samples).all():
            raise codec.CodecError(f"{clip.id}: decoded audio differs from the input")
        extra = {
            "ideal_bits": encoded.ideal_bits,
            "table_bits": encoded.info_bits,
            "payload_bytes": encoded.container.payload_bytes,
            "file_bytes": len(encoded.data),
            "frames": len(encoded.container.frames),
            "bits_per_token": self.info.settings.bits_per_token(clip.bit_depth),
            "verified": True,
        }
        return FileRate.for_clip(
            clip,
            encoded.payload_bits,
            container_bits=encoded.container_bits,
            seconds=time.perf_counter() - start,
            extra=extra,
        )

    def result_extra(self) -> dict[str, Any]:
        if self.coded:
            return {
                "accounting": (
                    "coded: each file range-coded in independent frames, decoded and compared bit-exactly;"
                    " compressed = frame payloads + their 32-bit lengths; container = header, checksums and"
                    " seek table; ideal_bits per row = sum of -log2 p over the same frames and windows"
                ),
                "windows": {"context": self.info.context, "stride": self.window_stride},
                "model_path": str(self.model_dir.resolve()),
            }
        return {
            "accounting": (
                "ideal: per file, the sum of -log2 p over every real byte (first byte given BOS), rounded"
                " up; NULL and PAD tokens never scored; probabilities over value tokens only"
            ),
            "windows": {"context": self.info.context, "stride": self.window_stride},
            "channel_order": "file order",
            "model_path": str(self.model_dir.resolve()),
        }

    def finish(self, result: RateResult) -> RateResult:
        """The result with model size and the totals per byte position (idempotent)."""
        result = replace(result, files=list(result.files), extra=dict(result.extra))
        result.model_parameters = self.info.parameters
        result.model_bytes = weights_bytes(self.model_dir)
        result.extra.update(self.leakage.get(result.dataset_fingerprint, {}))
        if result.shard:
            # a shard's totals would outlive the merge (it keeps the first shard's extra): rows only
            result.extra["position_totals"] = "in each file's row (sharded run); see position_summary()"
        else:
            result.extra.update(position_summary(result.ok_files))
        return result

    def estimate_rate(self, dataset: Dataset) -> RateResult:
        """Rate on a dataset, without keeping results on disk (the CLI keeps them)."""
        return estimate_with_runner(self, dataset, PACKAGES, {"device": self.device})


def position_summary(files: Sequence[FileRate]) -> dict[str, Any]:
    """Bits per byte overall and per byte position (msb, mid, lsb) over files' rows."""
    bits: dict[str, float] = {}
    tokens: dict[str, int] = {}
    raw_bytes, ideal = 0.0, 0.0
    for f in files:
        for name, value in f.extra.get("bits_by_position", {}).items():
            bits[name] = bits.get(name, 0.0) + value
            tokens[name] = tokens.get(name, 0) + f.extra["tokens_by_position"][name]
        ideal += f.extra.get("ideal_bits", 0.0)
        raw_bytes += f.raw_bits / 8
    per_token = files[0].extra.get("bits_per_token", 8) if files else 8
    return {
        "ideal_bits": ideal,
        "bits_per_byte": ideal / raw_bytes if raw_bytes else None,
        "bits_per_byte_by_position": {n: bits[n] / (tokens[n] * per_token / 8) for n in bits if tokens[n]},
        "tokens_by_position": tokens,
    }


def _positions(r: RateResult) -> str:
    summary = position_summary(r.ok_files)["bits_per_byte_by_position"]
    return ", ".join(f"{n} {v:.3f}" for n, v in summary.items())


def _ideal_bits(r: RateResult) -> float:
    return sum(f.extra.get("ideal_bits", 0.0) for f in r.ok_files)


def _per_byte(r: RateResult, bits: float) -> float | None:
    return bits / (r.raw_bits / 8) if r.raw_bits else None


_LEAD = (Col("dataset", where), Col("files", lambda r: len(r.ok_files), "d"))
IDEAL_COLUMNS = (*_LEAD, Col("bits/byte", lambda r: position_summary(r.ok_files)["bits_per_byte"], ".4f"),
                 Col("rate", lambda r: r.rate, ".3f"), Col("by position (bits/byte)", _positions),
                 Col("failed", failed, "d"))
# coded bits per byte beside the ideal ones of the same frames, and the container's share
CODED_COLUMNS = (*_LEAD, Col("ideal b/B", lambda r: _per_byte(r, _ideal_bits(r)), ".4f"),
                 Col("coded b/B", lambda r: _per_byte(r, r.compressed_bits), ".4f"),
                 Col("+container", lambda r: _per_byte(r, r.compressed_bits + r.container_bits), ".4f"),
                 Col("coded/ideal", lambda r: r.compressed_bits / _ideal_bits(r) if _ideal_bits(r) else None, ".5f"),
                 Col("rate", lambda r: r.rate, ".3f"), Col("failed", failed, "d"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trilobyte.estimate",
        description="Ideal rate (sum of -log2 p over every real byte) of a trained Trilobyte model.",
    )
    parser.add_argument("--model", type=Path, required=True, help="a model folder written by trilobyte.gpt2.train")
    parser.add_argument(
        "--stride", type=int, default=None, help="window stride in tokens (default: context/2)"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default: 8)")
    parser.add_argument("--dtype", choices=DTYPES, default="fp32", help="compute precision (default: fp32)")
    parser.add_argument(
        "--coded", action="store_true", help="compress, decode and compare every file with the real codec"
    )
    parser.add_argument("--frame-samples", type=int, default=4096, help="--coded: samples per frame (default 4096)")
    parser.add_argument("--group-frames", type=int, default=16, help="--coded: frames per batch (default: 16)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads per worker (default: 1 with --jobs > 1)"
    )
    parser.add_argument(
        "--allow-trained-clips",
        action="store_true",
        help="evaluate even clips the model was trained on (the result is marked); refused otherwise",
    )
    add_common_args(parser, default_datasets=())
    parser.set_defaults(split="test")
    parser._option_string_actions["--split"].help = "which split to evaluate (default: test)"
    args = parser.parse_args(argv)
    if not args.dataset:
        parser.error("name at least one --dataset to evaluate")
    setup_logging(args.verbose)
    shard = parse_shard(parser, args)
    try:
        threads = args.threads or (1 if args.jobs > 1 else None)
        coder = TrilobyteRate(args.model, args.stride, args.batch_size, args.device, args.dtype, threads, args.coded,
                              args.frame_samples, args.group_frames, args.allow_trained_clips)
    except (ModelError, ValueError) as err:
        log.error("%s", err)
        return EXIT_USAGE
    store = ResultStore(args.out)
    log.info("model %s (%s, %s parameters); results under %s", args.model, coder.info.preset,
             f"{coder.info.parameters:,}", args.out)

    def run_one(dataset: Dataset) -> list[RateResult]:
        coder.check_dataset(dataset)
        return run_file_coders([coder], dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                               progress=not args.no_progress, packages=PACKAGES,
                               extra_environment={"device": args.device})

    if args.coded:
        table, footer = CODED_COLUMNS, f"\ncoded rates (every file decoded and compared); results in {args.out}"
    else:
        table, footer = IDEAL_COLUMNS, f"\nideal rates (sum of -log2 p); results in {args.out}"
    try:
        return run_main(args, args.dataset, run_one, table, footer, errors=(ModelError,))
    except LeakageError as err:
        log.error("%s", err)
        return EXIT_USAGE  # a misuse: nothing more is evaluated (datasets before it are written)


if __name__ == "__main__":
    sys.exit(main())
