"""The Trilobyte codec's file format (``.trb``): a versioned header, a seek table and independent frames.

Layout (integers little-endian)::

    magic  b"TRLB"           4 bytes
    version                  u16 (this module writes and reads version 1)
    header length            u32
    header                   UTF-8 JSON: format, model identity, tokenizer and coding settings, audio
                             format (sample rate, bit depth, channels, length), MD5 of the PCM, the
                             encoder's environment
    header CRC32             u32
    frame count              u32
    seek table               per frame: payload bytes (u32), CRC32 of the payload (u32), CRC32 of the
                             frame's PCM (u32)
    seek table CRC32         u32 (over the frame count and the table)
    payloads                 the frames' range-coded words, one after another (a format may lay its
                             payloads out otherwise: the hybrid coder's layout 2 is bytes)

Every byte is covered by a checksum or a length that is checked, so a damaged or truncated file is
refused with an error naming the part (and the frame) that is wrong; nothing is decoded from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

MAGIC = b"TRLB"
VERSION = 1
FORMAT = "trilobyte-codec"
_PREFIX = struct.Struct("<4sHI")
_U32 = struct.Struct("<I")
_ENTRY = struct.Struct("<III")
MAX_HEADER = 1 << 20
MAX_FRAMES = 1 << 24


class ContainerError(ValueError):
    """A file that is not a valid Trilobyte container; the message names the damaged part or frame."""


@dataclass
class Frame:
    """One independently coded frame: its payload and the CRC32 of its PCM (checked after decoding)."""

    payload: bytes
    pcm_crc: int

    @property
    def payload_crc(self) -> int:
        return zlib.crc32(self.payload)


@dataclass
class Container:
    """A parsed (or to-be-written) file: the JSON header and the frames."""

    header: dict[str, Any]
    frames: list[Frame] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        header = json.dumps(self.header, sort_keys=True, separators=(",", ":")).encode()
        if len(header) > MAX_HEADER:
            raise ContainerError(f"header of {len(header)} bytes exceeds {MAX_HEADER}")
        table = _U32.pack(len(self.frames)) + b"".join(
            _ENTRY.pack(len(f.payload), f.payload_crc, f.pcm_crc) for f in self.frames
        )
        return b"".join(
            [
                _PREFIX.pack(MAGIC, VERSION, len(header)),
                header,
                _U32.pack(zlib.crc32(header)),
                table,
                _U32.pack(zlib.crc32(table)),
                *(f.payload for f in self.frames),
            ]
        )

    @property
    def payload_bytes(self) -> int:
        return sum(len(f.payload) for f in self.frames)


class StreamFields(Protocol):
    """The audio and frame fields every codec's header holds (what :func:`check_stream` checks)."""

    sample_rate: int
    bit_depth: int
    channels: int
    num_samples: int
    frame_samples: int
    frame_count: int


def pcm_bytes(samples: np.ndarray, bit_depth: int) -> bytes:
    """Interleaved little-endian signed PCM, ``bit_depth / 8`` bytes a sample (what FLAC's MD5 covers)."""
    width = bit_depth // 8
    raw = np.ascontiguousarray(samples, dtype="<i4").view(np.uint8).reshape(-1, 4)
    return raw[:, :width].tobytes()


def audio_header(samples: np.ndarray, sample_rate: int, bit_depth: int) -> dict[str, Any]:
    """The header's ``audio`` part: the format, the length and the PCM's MD5."""
    return {
        "sample_rate": int(sample_rate),
        "bit_depth": int(bit_depth),
        "channels": int(samples.shape[1]),
        "num_samples": int(samples.shape[0]),
        "pcm_md5": hashlib.md5(pcm_bytes(samples, bit_depth)).hexdigest(),
    }


def coded_frames(payloads: Sequence[bytes], frames: Sequence[np.ndarray], bit_depth: int) -> list[Frame]:
    """Each frame's payload beside the CRC32 of the PCM it codes."""
    return [Frame(p, zlib.crc32(pcm_bytes(f, bit_depth))) for p, f in zip(payloads, frames, strict=True)]


def check_stream(info: StreamFields, max_channels: int, frame_settings_ok: bool = True) -> None:
    """Refuse a header whose audio or frame fields no decoder could honour (ContainerError naming it)."""
    checks = [
        (info.bit_depth in (8, 16, 24), f"bit depth {info.bit_depth}"),
        (1 <= info.channels <= max_channels, f"{info.channels} channels"),
        (info.sample_rate > 0, f"sample rate {info.sample_rate}"),
        (0 < info.num_samples < 1 << 40, f"{info.num_samples} samples"),
        (info.frame_samples > 0 and frame_settings_ok, "frame settings"),
        (info.frame_count == math.ceil(info.num_samples / max(1, info.frame_samples)), "frame count"),
    ]
    for ok, what in checks:
        if not ok:
            raise ContainerError(f"header holds an invalid {what}")


def check_decoded(decoded: Sequence[np.ndarray], container: Container, bit_depth: int, pcm_md5: str,
                  error: type[Exception], damaged: str = "a damaged file") -> np.ndarray:
    """The decoded frames joined, once each frame matches its PCM CRC32 and the whole the MD5; otherwise
    ``error`` naming the frame (``damaged``: what a mismatch means for the codec at hand)."""
    for index, (frame, stored) in enumerate(zip(decoded, container.frames, strict=True)):
        if zlib.crc32(pcm_bytes(frame, bit_depth)) != stored.pcm_crc:
            raise error(f"frame {index}: decoded audio does not match its checksum ({damaged})")
    samples = np.concatenate(decoded, axis=0)
    if hashlib.md5(pcm_bytes(samples, bit_depth)).hexdigest() != pcm_md5:
        raise error("decoded audio does not match the file's MD5")
    return samples


def read_header(data: bytes, fmt: str = FORMAT) -> tuple[dict[str, Any], int]:
    """The checked header and the offset just past it; the header's ``format`` must be ``fmt``."""
    if len(data) < _PREFIX.size:
        raise ContainerError(f"not a Trilobyte file: {len(data)} bytes is shorter than the file prefix")
    magic, version, length = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ContainerError(f"not a Trilobyte file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise ContainerError(f"container version {version} is not supported (this reader knows {VERSION})")
    if length > MAX_HEADER:
        raise ContainerError(f"damaged header: claims {length} bytes (at most {MAX_HEADER})")
    end = _PREFIX.size + length
    if len(data) < end + 4:
        raise ContainerError(f"truncated file: the header ({length} bytes) is cut short")
    raw = data[_PREFIX.size : end]
    (crc,) = _U32.unpack_from(data, end)
    if zlib.crc32(raw) != crc:
        raise ContainerError("damaged header: checksum mismatch")
    try:
        header = json.loads(raw)
    except ValueError as err:
        raise ContainerError(f"damaged header: not JSON ({err})") from err
    if not isinstance(header, dict) or header.get("format") != fmt:
        theirs = header.get("format") if isinstance(header, dict) else None
        raise ContainerError(f"header is not a {fmt} header (format {theirs!r})")
    return header, end + 4


def parse(data: bytes, fmt: str = FORMAT, whole_words: bool = True) -> Container:
    """Parse and check a whole file: header (of format ``fmt``), seek table, every frame's length (whole
    32-bit words unless ``whole_words`` is false) and checksum."""
    header, pos = read_header(data, fmt)
    if len(data) < pos + 4:
        raise ContainerError("truncated file: no seek table")
    (count,) = _U32.unpack_from(data, pos)
    if count > MAX_FRAMES:
        raise ContainerError(f"damaged seek table: claims {count} frames")
    table_end = pos + 4 + count * _ENTRY.size
    if len(data) < table_end + 4:
        raise ContainerError(f"truncated file: the seek table of {count} frames is cut short")
    (crc,) = _U32.unpack_from(data, table_end)
    if zlib.crc32(data[pos:table_end]) != crc:
        raise ContainerError("damaged seek table: checksum mismatch")
    expected = header.get("frames", {}).get("count")
    if expected != count:
        raise ContainerError(f"seek table holds {count} frames, the header says {expected}")
    entries = [_ENTRY.unpack_from(data, pos + 4 + i * _ENTRY.size) for i in range(count)]
    frames, offset = [], table_end + 4
    for index, (size, payload_crc, pcm_crc) in enumerate(entries):
        if whole_words and size % 4:
            raise ContainerError(f"frame {index}: payload of {size} bytes is not whole 32-bit words")
        payload = data[offset : offset + size]
        if len(payload) < size:
            raise ContainerError(
                f"truncated file: frame {index} of {count} is cut short ({len(payload)} of {size} bytes)"
            )
        if zlib.crc32(payload) != payload_crc:
            raise ContainerError(f"frame {index}: damaged payload (checksum mismatch)")
        frames.append(Frame(payload, pcm_crc))
        offset += size
    if offset != len(data):
        raise ContainerError(f"{len(data) - offset} unexpected bytes after the last frame")
    return Container(header, frames)
