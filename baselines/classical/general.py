"""General-purpose compressors on the raw PCM bytes: gzip, bzip2, xz (LZMA2) and zstd.

Each file's samples become bytes in the WAV data-chunk layout (:mod:`baselines.classical.pcm`:
little-endian, interleaved, 1, 2 or 3 bytes per sample, 8-bit unsigned), are compressed as one stream,
decompressed and compared. The whole compressed stream (format header and checksums included) is
``compressed_bits``, as the language-model compression literature reports these compressors.

gzip, bzip2 and xz come from Python's standard library; zstd from the ``zstandard`` package (the
``classical`` extra) when it is installed, else from the ``zstd`` command (Debian package zstd).
"""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import lzma
import platform
import shutil
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.classical import pcm, process
from baselines.classical.commands import VERSION_SECONDS, CodecError, CodecUnavailable, LosslessError
from trilobyte.core.datasets import AudioClip
from trilobyte.core.protocol import FileRate


@dataclass(frozen=True)
class ByteCompressor:
    """A general-purpose compressor: its presets and how each compresses and decompresses bytes."""

    name: str
    title: str
    presets: tuple[str, ...]
    default_preset: str
    description: str


def _xz_preset(preset: str) -> int:
    return int(preset.rstrip("e")) | (lzma.PRESET_EXTREME if preset.endswith("e") else 0)


def _zstd_level_args(preset: str) -> list[str]:
    level = int(preset)
    return (["--ultra"] if level > 19 else []) + [f"-{level}"]


def _zstd_cli(args: list[str], data: bytes, seconds: float, limit: float) -> bytes:
    zstd = shutil.which("zstd")
    if zstd is None:
        raise CodecUnavailable("zstd needs the zstandard Python package (pip install 'trilobyte-bench[classical]')"
                               " or the zstd command (sudo apt-get install zstd)")
    done = process.run_limited([zstd, "-q", "-c", *args], seconds, f"zstd {' '.join(args)}", data, limit,
                               process.FILE_NOTE)
    if done.returncode != 0:
        raise CodecError(f"zstd {' '.join(args)} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _compress(name: str, backend: str, preset: str, data: bytes, seconds: float, limit: float) -> bytes:
    if name == "gzip":
        return gzip.compress(data, compresslevel=int(preset), mtime=0)
    if name == "bzip2":
        return bz2.compress(data, compresslevel=int(preset))
    if name == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, preset=_xz_preset(preset))
    if backend == "zstandard":
        import zstandard

        return zstandard.ZstdCompressor(level=int(preset)).compress(data)
    return _zstd_cli(_zstd_level_args(preset), data, seconds, limit)


def _decompress(name: str, backend: str, data: bytes, seconds: float, limit: float) -> bytes:
    if name == "gzip":
        return gzip.decompress(data)
    if name == "bzip2":
        return bz2.decompress(data)
    if name == "xz":
        return lzma.decompress(data, format=lzma.FORMAT_XZ)
    if backend == "zstandard":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data)
    return _zstd_cli(["-d"], data, seconds, limit)


COMPRESSORS: dict[str, ByteCompressor] = {c.name: c for c in (
    ByteCompressor("gzip", "gzip (zlib)", ("1", "6", "9"), "9", "DEFLATE, Python's gzip module"),
    ByteCompressor("bzip2", "bzip2", ("1", "9"), "9", "Burrows-Wheeler, Python's bz2 module"),
    ByteCompressor("xz", "xz (LZMA2)", ("0", "6", "9", "9e"), "6", "LZMA2 in an .xz stream, Python's lzma module"),
    ByteCompressor("zstd", "zstd", ("3", "19", "22"), "19", "Zstandard, the zstandard package or the zstd command"),
)}


def zstd_backend() -> str:
    """``zstandard`` (the Python package) when importable, else ``cli`` when the zstd command exists."""
    if importlib.util.find_spec("zstandard") is not None:
        return "zstandard"
    if shutil.which("zstd"):
        return "cli"
    raise CodecUnavailable("zstd needs the zstandard Python package (pip install 'trilobyte-bench[classical]')"
                           " or the zstd command (sudo apt-get install zstd)")


def _version(name: str, backend: str) -> str:
    if name == "gzip":
        return f"zlib {zlib.ZLIB_RUNTIME_VERSION} (Python {platform.python_version()} gzip)"
    if name == "bzip2":
        return f"libbz2 via Python {platform.python_version()} bz2"
    if name == "xz":
        return f"liblzma via Python {platform.python_version()} lzma"
    if backend == "zstandard":
        import zstandard

        return f"zstandard {zstandard.__version__} (libzstd {'.'.join(map(str, zstandard.ZSTD_VERSION))})"
    try:
        done = process.run_limited([shutil.which("zstd") or "zstd", "--version"], VERSION_SECONDS, "zstd --version")
    except (OSError, process.CommandTimeout):
        return "zstd (unknown version)"
    text = done.stdout.decode(errors="replace").strip()
    return text.splitlines()[0] if text else "zstd (unknown version)"


def compressor_report(config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Table 1 column and label of a general-purpose compressor at one preset (from its saved config)."""
    label = f"{config.get('compressor')} -{config.get('preset')}"
    return (label,), label


@dataclass(frozen=True)
class GeneralCoder:
    """One compressor at one preset as a FileCoder over each clip's raw PCM bytes (coded)."""

    compressor: str
    preset: str
    backend: str = "stdlib"
    name: str = ""
    mode: str = "coded"
    family: str = "general-purpose"  # the report's family, also for codecs described by a TOML file
    timeout: float | None = None  # the zstd command's seconds for one file; None: process.default_limit

    def __post_init__(self) -> None:
        spec = COMPRESSORS.get(self.compressor)
        if spec is None:
            raise ValueError(f"unknown compressor {self.compressor!r}; choose from {', '.join(COMPRESSORS)}")
        if self.preset not in spec.presets:
            raise ValueError(f"{spec.title} has no preset {self.preset!r}; choose from {', '.join(spec.presets)}")
        if not self.name:
            object.__setattr__(self, "name", self.compressor)

    @classmethod
    def create(cls, compressor: str, preset: str | None = None, timeout: float | None = None) -> GeneralCoder:
        """The coder at ``preset``, its backend resolved.

        Defaults: what the literature's code calls (``gzip.compress``: 9, ``bz2.compress``: 9,
        ``lzma.compress``: 6) and zstd's strongest level without ``--ultra`` (19). ``timeout`` bounds the
        zstd command (when it is the backend) as it bounds a command-line codec; the rest run in process.
        """
        spec = COMPRESSORS[compressor]
        backend = zstd_backend() if compressor == "zstd" else "stdlib"
        return cls(compressor, preset or spec.default_preset, backend, timeout=timeout)

    def version(self) -> str:
        return _version(self.compressor, self.backend)

    def config(self) -> dict[str, Any]:
        return {"compressor": self.compressor, "preset": self.preset, "backend": self.backend,
                "version": self.version(), "layout": "WAV data chunk bytes"}

    def config_name(self) -> str:
        return f"level{self.preset}"

    def report_label(self) -> str:
        return compressor_report({"compressor": self.compressor, "preset": self.preset})[1]

    def report_columns(self) -> tuple[str, ...]:
        return compressor_report({"compressor": self.compressor, "preset": self.preset})[0]

    def result_extra(self) -> dict[str, Any]:
        return {
            "tool": COMPRESSORS[self.compressor].title,
            "version": self.version(),
            "backend": self.backend,
            "input_bytes": "raw PCM as a WAV data chunk stores it: little-endian, interleaved, 1/2/3 bytes a"
                           " sample, 8-bit unsigned; other depths (4-32 bits) right-justified two's complement in"
                           " ceil(depth/8) bytes",
            "payload": "the whole compressed stream (format header and checksums included); no container split",
            "timing": "encode/decode seconds: compress/decompress of the bytes alone",
        }

    def code_file(self, clip: AudioClip) -> FileRate:
        start = time.perf_counter()
        limit = self.timeout if self.timeout is not None else process.default_limit(clip.duration)
        data = pcm.to_bytes(clip.samples, clip.bit_depth)
        before = time.perf_counter()
        packed = _compress(self.compressor, self.backend, self.preset, data, start + limit - before, limit)
        encoded = time.perf_counter()
        unpacked = _decompress(self.compressor, self.backend, packed, start + limit - encoded, limit)
        decoded = time.perf_counter()
        samples = pcm.from_bytes(unpacked, clip.bit_depth, clip.channels)
        if samples.shape != clip.samples.shape or not np.array_equal(samples, clip.samples):
            raise LosslessError(f"{clip.id}: {self.compressor} round trip is not bit-exact")
        return FileRate.for_clip(
            clip, len(packed) * 8, seconds=time.perf_counter() - start,
            extra={"encode_seconds": encoded - before, "decode_seconds": decoded - encoded,
                   "file_bytes": len(packed)},
        )
