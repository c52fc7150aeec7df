"""FLAC (libFLAC in process) as a per-file coder: every file encoded at its own bit depth (4 to 32 bits), decoded
by the data layer's libFLAC reader (MD5 checked) and compared bit-exactly."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.flac import codec as flac_codec
from baselines.flac.codec import FlacSettings
from baselines.flac.report import flac_report
from trilobyte.core.datasets import AudioClip, Dataset
from trilobyte.core.protocol import FileRate, LosslessError, RateResult
from trilobyte.core.runner import estimate_with_runner

log = logging.getLogger("trilobyte.flac")

METHOD = "flac"
PACKAGES = ("pyflac",)


@dataclass(frozen=True)
class FlacCoder:
    """One FLAC configuration as a per-file coder (coded mode: every file decoded and compared)."""

    settings: FlacSettings
    name: str = METHOD
    mode: str = "coded"

    def config(self) -> dict[str, Any]:
        return {**self.settings.as_dict(), "libflac": flac_codec.libflac_version()}

    def config_name(self) -> str:
        return self.settings.name

    def result_extra(self) -> dict[str, Any]:
        extra = {
            "libflac_version": flac_codec.libflac_version(),
            "encoder": "libFLAC via pyflac",
            "decoder": "libFLAC via trilobyte.core.libflac (STREAMINFO MD5 checked)",
            "payload": "fLaC marker + STREAMINFO + frames; other metadata blocks are container_bits",
        }
        if "fixed" in self.settings.disable_subframes and self.settings.level <= 2 and not self.settings.max_lpc_order:
            extra["note"] = "levels 0-2 allow no LPC: libFLAC still codes fixed subframes where nothing else is left"
        return extra

    def code_file(self, clip: AudioClip) -> FileRate:
        start = time.perf_counter()
        data = flac_codec.encode(clip.samples, clip.sample_rate, clip.bit_depth, self.settings)
        encoded = time.perf_counter()
        decoded, rate, depth = flac_codec.decode(data)
        if rate != clip.sample_rate or depth != clip.bit_depth or not np.array_equal(decoded, clip.samples):
            raise LosslessError(f"{clip.id}: FLAC round trip is not bit-exact")
        done = time.perf_counter()
        layout = flac_codec.parse_layout(data)
        return FileRate.for_clip(
            clip,
            layout.payload_bytes * 8,
            container_bits=layout.container_bytes * 8,
            seconds=done - start,
            extra={"encode_seconds": encoded - start, "decode_seconds": done - encoded},
        )

    def is_stock(self, level: int = 8) -> bool:
        s = self.settings
        return (s.level == level and not s.disable_subframes and not s.exhaustive_model_search
                and s.max_lpc_order is None and s.blocksize is None)

    def report_columns(self) -> tuple[str, ...]:
        """Stock ``flac -8`` is the paper's FLAC column and competes for FLAC max; any other setting, FLAC max."""
        return flac_report(self.settings.as_dict())[0]

    def report_label(self) -> str:
        return flac_report(self.settings.as_dict())[1]

    def estimate_rate(self, dataset: Dataset) -> RateResult:
        """Rate on a dataset, without keeping results on disk (the CLI keeps them)."""
        return estimate_with_runner(self, dataset, PACKAGES)


def make_flac(level: int = 8, disable_subframes: tuple[str, ...] | frozenset[str] = (),
              exhaustive: bool = False, max_lpc_order: int | None = None, blocksize: int | None = None) -> FlacCoder:
    """The registry's factory: ``get_method("flac", level=5, disable_subframes=("constant",))``."""
    return FlacCoder(FlacSettings(level, frozenset(disable_subframes), exhaustive, max_lpc_order, blocksize))


