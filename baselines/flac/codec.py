"""libFLAC in process, through pyflac: encode exact integer PCM to a FLAC stream in memory, and measure it.

Streams are decoded back by :mod:`trilobyte.core.libflac` (the same libFLAC's decoder, driven by the data
layer's own reader), so every depth from 4 to 32 bits round-trips.

pyflac builds its cffi extension against the libFLAC it bundles; we drive that encoder directly, so
every bit depth from 4 to 32 and any channel count goes through. The paper's Appendix A switches
(``FLAC__stream_encoder_disable_{constant,fixed,verbatim}_subframes``) are exported by that same
library but not wrapped by pyflac, so they are called through ctypes on the same encoder object.
"""

from __future__ import annotations

import ctypes
import functools
import io
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trilobyte.core.flacblocks import FlacBlockError, encode_stream
from trilobyte.core.libflac import FlacDecodeError, decode_flac, libflac_path

SUBFRAME_TYPES = ("constant", "fixed", "verbatim")
LEVELS = tuple(range(9))
STREAMINFO_BYTES = 4 + 4 + 34  # "fLaC" marker, block header, STREAMINFO body
SUBSET_MAX_BLOCKSIZE = 4608
SUBSET_MAX_LPC_ORDER_48K = 12
SUBSET_BIT_DEPTHS = (8, 12, 16, 20, 24, 32)  # libFLAC refuses other depths in the streamable subset


class FlacError(RuntimeError):
    """libFLAC refused the settings or failed to encode; the message carries libFLAC's own words."""


@dataclass(frozen=True)
class FlacSettings:
    """One FLAC configuration: a compression level plus the paper's and the expert switches."""

    level: int = 8
    disable_subframes: frozenset[str] = field(default_factory=frozenset)
    exhaustive_model_search: bool = False
    max_lpc_order: int | None = None
    blocksize: int | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"FLAC level must be 0..8, not {self.level}")
        unknown = set(self.disable_subframes) - set(SUBFRAME_TYPES)
        if unknown:
            raise ValueError(f"unknown subframe type(s) {sorted(unknown)}; choose from {SUBFRAME_TYPES}")
        object.__setattr__(self, "disable_subframes", frozenset(self.disable_subframes))
        if self.max_lpc_order is not None and not 0 <= self.max_lpc_order <= 32:
            raise ValueError("max LPC order must be 0..32")
        if self.blocksize is not None and not 16 <= self.blocksize <= 65535:
            raise ValueError("block size must be 16..65535")

    @property
    def name(self) -> str:
        parts = [f"level{self.level}"]
        if self.disable_subframes:
            parts.append("no-" + "-".join(t for t in SUBFRAME_TYPES if t in self.disable_subframes))
        if self.exhaustive_model_search:
            parts.append("e")
        if self.max_lpc_order is not None:
            parts.append(f"l{self.max_lpc_order}")
        if self.blocksize is not None:
            parts.append(f"b{self.blocksize}")
        return "_".join(parts)

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "disable_subframes": sorted(self.disable_subframes),
            "exhaustive_model_search": self.exhaustive_model_search,
            "max_lpc_order": self.max_lpc_order,
            "blocksize": self.blocksize,
        }

    def needs_lax(self, sample_rate: int, bit_depth: int = 16) -> bool:
        """Whether these settings leave FLAC's streamable subset (the ``flac --lax`` case)."""
        lpc_limit = SUBSET_MAX_LPC_ORDER_48K if sample_rate <= 48000 else 32
        return bool(
            bit_depth not in SUBSET_BIT_DEPTHS
            or (self.max_lpc_order is not None and self.max_lpc_order > lpc_limit)
            or (
                self.blocksize is not None
                and (
                    self.blocksize > SUBSET_MAX_BLOCKSIZE or (sample_rate <= 48000 and self.blocksize > 4608)
                )
            )
        )

    def cli_args(self, sample_rate: int, bit_depth: int = 16) -> list[str]:
        """The reference ``flac`` command line's options for the same configuration."""
        args = [f"-{self.level}"]
        args += [f"--disable-{t}-subframes" for t in SUBFRAME_TYPES if t in self.disable_subframes]
        if self.exhaustive_model_search:
            args.append("-e")
        if self.max_lpc_order is not None:
            args.append(f"--max-lpc-order={self.max_lpc_order}")
        if self.blocksize is not None:
            args.append(f"--blocksize={self.blocksize}")
        if self.needs_lax(sample_rate, bit_depth):
            args.append("--lax")
        return args


@dataclass(frozen=True)
class FlacLayout:
    """How a FLAC file's bytes divide: what a decoder needs, and container extras."""

    payload_bytes: int  # "fLaC" + STREAMINFO block + frames
    container_bytes: int  # every other metadata block (padding, seek table, tags, ...) and ID3 tags
    frames_offset: int
    blocks: tuple[tuple[int, int], ...]  # (block type, body length) in file order


def parse_layout(data: bytes) -> FlacLayout:
    """Walk a FLAC stream's metadata blocks; raise FlacError on anything malformed."""
    offset, prefix = 0, 0
    if data[:3] == b"ID3" and len(data) >= 10:  # an ID3v2 tag some taggers put before "fLaC"
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        prefix = offset = 10 + size
    if data[offset : offset + 4] != b"fLaC":
        raise FlacError("not a FLAC stream (no 'fLaC' marker)")
    offset += 4
    blocks, container, last = [], prefix, False
    while not last:
        if offset + 4 > len(data):
            raise FlacError("truncated FLAC metadata")
        header = data[offset]
        last, kind = bool(header & 0x80), header & 0x7F
        (length,) = struct.unpack(">I", b"\0" + data[offset + 1 : offset + 4])
        if offset + 4 + length > len(data):
            raise FlacError("truncated FLAC metadata block")
        if not blocks and (kind != 0 or length != 34):
            raise FlacError("FLAC stream does not start with a STREAMINFO block")
        if blocks:
            container += 4 + length
        blocks.append((kind, length))
        offset += 4 + length
    frames = len(data) - offset
    return FlacLayout(STREAMINFO_BYTES + frames, container, offset, tuple(blocks))


@functools.cache
def _library():
    """pyflac's cffi module and a ctypes handle on the very libFLAC it loaded."""
    from pyflac._encoder import ffi, lib  # imported here: the FLAC sweep's workers need only this

    path = libflac_path()
    handle = ctypes.CDLL(path)
    for kind in SUBFRAME_TYPES:
        fn = getattr(handle, f"FLAC__stream_encoder_disable_{kind}_subframes")
        fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_int
    version = ctypes.c_char_p.in_dll(handle, "FLAC__VERSION_STRING").value.decode()
    return ffi, lib, handle, version


def libflac_version() -> str:
    """Version of the libFLAC that this process encodes with (pyflac's bundled copy)."""
    return _library()[3]


@dataclass
class _Sink:
    buffer: io.BytesIO = field(default_factory=io.BytesIO)


def encode(samples: np.ndarray, sample_rate: int, bit_depth: int, settings: FlacSettings) -> bytes:
    """Encode ``(num_samples, channels)`` signed integers to a complete FLAC stream, in memory."""
    ffi, lib, handle, _ = _library()
    sink = _Sink()

    def write(buffer: bytes, num_bytes: int, num_samples: int, current_frame: int) -> None:
        sink.buffer.write(buffer)

    def seek(offset: int) -> None:
        sink.buffer.seek(offset)

    def configure(raw: Any) -> None:
        if settings.exhaustive_model_search:
            lib.FLAC__stream_encoder_set_do_exhaustive_model_search(raw, True)
        if settings.max_lpc_order is not None:
            lib.FLAC__stream_encoder_set_max_lpc_order(raw, settings.max_lpc_order)
        address = int(ffi.cast("uintptr_t", raw))
        for kind in settings.disable_subframes:
            getattr(handle, f"FLAC__stream_encoder_disable_{kind}_subframes")(address, 1)

    # The seek and tell callbacks let libFLAC rewrite STREAMINFO (MD5, sizes) when it finishes.
    try:
        encode_stream(samples, sample_rate, bit_depth, write, settings.level, settings.blocksize or 0,
                      not settings.needs_lax(sample_rate, bit_depth), seek, sink.buffer.tell, configure)
    except FlacBlockError as err:
        raise FlacError(str(err)) from err
    return sink.buffer.getvalue()


def decode(data: bytes) -> tuple[np.ndarray, int, int]:
    """Decode a FLAC stream (libFLAC, MD5 checked) to exact integers, rate and depth."""
    from trilobyte.core.audio import AudioError

    try:
        stream = decode_flac(data)
    except FlacDecodeError as err:
        raise AudioError(f"FLAC stream does not decode: {err}") from err
    return stream.samples, stream.sample_rate, stream.bit_depth
