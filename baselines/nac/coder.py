"""A neural codec + Rice residual as a per-file coder, and what it adds to a finished result."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines import residuals
from baselines.nac.codec import DEFAULT_BLOCK_SECONDS, NacCodec
from baselines.nac.models import deterministic_torch, load_model
from baselines.nac.stream import MAX_PARTITION_ORDER, RICE_BLOCK, VERSION
from trilobyte.core.datasets import AudioClip
from trilobyte.core.protocol import FileRate, LosslessError, RateResult

log = logging.getLogger("trilobyte.nac")

PACKAGES = ("torch", "transformers", "numba", "pyflac")


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

    def report_label(self) -> str:
        return f"{self.name.removeprefix('nac-')} + Rice ({self.config_name()})"

    def finish(self, result: RateResult) -> RateResult:
        """The result with the model's size and the dataset's merged residual histogram."""
        result.model_parameters = self.codec.model.parameters
        result.model_bytes = self.codec.model.weight_bytes
        result.extra["residual_histogram"] = residuals.from_rows(result.files)
        return result

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
