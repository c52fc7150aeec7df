"""The Shorten-style coder as a trilobyte-bench per-file coder: every file coded, decoded and compared."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trilobyte.core.datasets import AudioClip
from trilobyte.core.protocol import FileRate, LosslessError
from trilobyte_shorten import __version__, stream


@dataclass(frozen=True)
class ShortenCoder:
    """Fixed polynomial prediction (orders 0 to ``max_order``) + partitioned Rice, in blocks of ``block_size``."""

    block_size: int = 4096
    max_order: int = stream.MAX_ORDER
    max_partition_order: int = 8
    name: str = "shorten"
    mode: str = "coded"

    def config(self) -> dict[str, Any]:
        return {"block_size": self.block_size, "max_order": self.max_order,
                "max_partition_order": self.max_partition_order, "version": __version__}

    def config_name(self) -> str:
        return f"b{self.block_size}-o{self.max_order}-p{self.max_partition_order}"

    def report_label(self) -> str:
        return f"Shorten -b {self.block_size} (orders 0-{self.max_order})"

    def code_file(self, clip: AudioClip) -> FileRate:
        start = time.perf_counter()
        encoded = stream.encode(clip.samples, clip.sample_rate, clip.bit_depth, self.block_size, self.max_order,
                                self.max_partition_order)
        coded = time.perf_counter()
        samples, rate, depth = stream.decode(encoded.data)
        if (rate, depth) != (clip.sample_rate, clip.bit_depth) or not np.array_equal(samples, clip.samples):
            raise LosslessError(f"{clip.id}: Shorten round trip is not bit-exact")
        done = time.perf_counter()
        return FileRate.for_clip(clip, 8 * len(encoded.data), seconds=done - start,
                                 extra={"encode_seconds": coded - start, "decode_seconds": done - coded,
                                        "order_counts": list(encoded.order_counts)})


def make_shorten(block_size: int = 4096, max_order: int = stream.MAX_ORDER,
                 max_partition_order: int = 8) -> ShortenCoder:
    """The registry's factory: ``get_method("shorten", block_size=1024)``."""
    return ShortenCoder(block_size, max_order, max_partition_order)
