"""Split an encoded file into what a decoder needs (payload) and container extras, per format.

Each parser returns a :class:`Layout` whose two parts add up to the file's size. What counts as
container, by format:

* ``whole``: nothing; the whole file is payload (formats we do not parse).
* ``flac``: padding, seek table, Vorbis comment and every other metadata block besides STREAMINFO.
* ``wavpack``: the sub-blocks that only restore the source file (RIFF/alternate header and trailer,
  file extension) or verify it (MD5), plus APEv2/ID3v1 tags after the last block.
* ``mp4-alac``: everything but the ALAC frames (the ``mdat`` bodies) and the 24-byte ALAC magic cookie
  (the decoder's configuration): ``ftyp``, the ``moov`` sample tables, ``free``, ``udta``.
* ``tta``: the seek table (with its CRC) and ID3/APE tags; the 22-byte TTA1 header stays payload.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from baselines.flac import codec as flac_codec


class ContainerError(ValueError):
    """An encoded file that does not parse as the format it claims to be."""


@dataclass(frozen=True)
class Layout:
    """How an encoded file's bytes divide."""

    payload_bytes: int
    container_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.payload_bytes + self.container_bytes


def whole_file(data: bytes) -> Layout:
    return Layout(len(data), 0)


def flac_file(data: bytes) -> Layout:
    try:
        layout = flac_codec.parse_layout(data)
    except flac_codec.FlacError as err:
        raise ContainerError(str(err)) from err
    return Layout(layout.payload_bytes, layout.container_bytes)


def _is_trailing_tag(tail: bytes) -> bool:
    """APEv2 (with header or footer) or ID3v1 tags, the only things allowed after the audio."""
    return tail.startswith((b"APETAGEX", b"TAG")) or tail[-32:-24] == b"APETAGEX"


def _id3v2_size(data: bytes) -> int:
    """Length of an ID3v2 tag at the start of ``data`` (0 when there is none)."""
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)  # flag 0x10: a footer follows


# WavPack metadata sub-block ids (low 6 bits) that a decoder does not need to rebuild the samples.
WAVPACK_CONTAINER_IDS = {
    0x21: "RIFF header", 0x22: "RIFF trailer", 0x23: "alternate header", 0x24: "alternate trailer",
    0x26: "MD5 checksum", 0x28: "alternate extension", 0x29: "alternate MD5 checksum",
}
WAVPACK_BLOCK_HEADER = 32


def wavpack_file(data: bytes) -> Layout:
    """Walk WavPack blocks (``wvpk`` + 32-byte header + metadata sub-blocks) and tally the extras."""
    offset, container, blocks = 0, 0, 0
    while offset < len(data):
        if data[offset : offset + 4] != b"wvpk":
            if blocks and _is_trailing_tag(data[offset:]):
                container += len(data) - offset
                break
            raise ContainerError(f"not a WavPack block at byte {offset}")
        (chunk,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        end = offset + 8 + chunk
        if chunk < WAVPACK_BLOCK_HEADER - 8 or end > len(data):
            raise ContainerError(f"truncated WavPack block at byte {offset}")
        pos = offset + WAVPACK_BLOCK_HEADER
        while pos < end:
            ident = data[pos]
            if ident & 0x80:  # ID_LARGE: a 24-bit size in 16-bit words
                head, words = 4, int.from_bytes(data[pos + 1 : pos + 4], "little")
            else:
                head, words = 2, data[pos + 1]
            size = head + 2 * words
            if pos + size > end:
                raise ContainerError(f"WavPack sub-block overruns its block at byte {pos}")
            if ident & 0x3F in WAVPACK_CONTAINER_IDS:
                container += size
            pos += size
        offset, blocks = end, blocks + 1
    if not blocks:
        raise ContainerError("no WavPack blocks")
    return Layout(len(data) - container, container)


_MP4_PARENTS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
ALAC_COOKIE_BYTES = 24


def _mp4_boxes(data: bytes, start: int, end: int):
    """(type, body start, box end) of each box between ``start`` and ``end``."""
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise ContainerError(f"truncated MP4 box header at byte {pos}")
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        head = 8
        if size == 1:
            if pos + 16 > end:
                raise ContainerError(f"truncated MP4 box header at byte {pos}")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ContainerError(f"MP4 box {kind!r} at byte {pos} overruns its parent")
        yield kind, pos + head, pos + size
        pos += size


def _alac_cookie(data: bytes, start: int, end: int) -> int | None:
    """Bytes of the ALAC magic cookie found under ``start:end`` (moov and below)."""
    for kind, body, box_end in _mp4_boxes(data, start, end):
        if kind in _MP4_PARENTS:
            found = _alac_cookie(data, body, box_end)
        elif kind == b"stsd":
            found = _alac_cookie(data, body + 8, box_end)  # version/flags and entry count
        elif kind == b"alac" and box_end - body > 28 + 8:  # the audio sample entry: skip its fields
            version = struct.unpack(">H", data[body + 8 : body + 10])[0]
            skip = 28 + {1: 16, 2: 36}.get(version, 0)
            found = _alac_cookie(data, body + skip, box_end)
        elif kind == b"alac":  # the cookie box itself: version/flags, then ALACSpecificConfig
            found = box_end - body - 4
        else:
            found = None
        if found is not None:
            return found
    return None


def mp4_alac_file(data: bytes) -> Layout:
    """ALAC in MP4/M4A: ``mdat`` bodies plus the magic cookie are payload."""
    media, cookie = 0, None
    for kind, body, box_end in _mp4_boxes(data, 0, len(data)):
        if kind == b"mdat":
            media += box_end - body
        elif kind == b"moov":
            cookie = _alac_cookie(data, body, box_end)
    if not media or cookie is None:
        raise ContainerError("not an ALAC-in-MP4 file (no mdat box or no ALAC magic cookie)")
    if cookie != ALAC_COOKIE_BYTES:
        raise ContainerError(f"ALAC magic cookie of {cookie} bytes, expected {ALAC_COOKIE_BYTES}")
    payload = media + cookie
    return Layout(payload, len(data) - payload)


TTA_HEADER = 22


def tta_frame_length(sample_rate: int) -> int:
    """Samples per TTA frame (1.0449 s of audio)."""
    return 256 * sample_rate // 245


def tta_file(data: bytes) -> Layout:
    """TTA1: header, seek table (frame sizes + CRC32), frames, optional tags."""
    start = _id3v2_size(data)
    header = data[start : start + TTA_HEADER]
    if len(header) < TTA_HEADER or header[:4] != b"TTA1":
        raise ContainerError("not a TTA1 file")
    _fmt, _channels, _bits, rate, total = struct.unpack("<HHHII", header[4:18])
    if rate == 0:
        raise ContainerError("TTA header with a sample rate of 0")
    frames = -(-total // tta_frame_length(rate))
    table = start + TTA_HEADER
    table_bytes = 4 * frames + 4
    if table + table_bytes > len(data):
        raise ContainerError("truncated TTA seek table")
    sizes = struct.unpack(f"<{frames}I", data[table : table + 4 * frames])
    end = table + table_bytes + sum(sizes)
    if end > len(data):
        raise ContainerError("truncated TTA file: its seek table promises more frames than it holds")
    if end < len(data) and not _is_trailing_tag(data[end:]):
        raise ContainerError(f"unexpected bytes after the last TTA frame (byte {end})")
    payload = TTA_HEADER + sum(sizes)
    return Layout(payload, len(data) - payload)


PARSERS: dict[str, Callable[[bytes], Layout]] = {
    "whole": whole_file,
    "flac": flac_file,
    "wavpack": wavpack_file,
    "mp4-alac": mp4_alac_file,
    "tta": tta_file,
}

DESCRIPTIONS = {
    "whole": "the whole encoded file is compressed_bits (this format is not split)",
    "flac": "fLaC marker + STREAMINFO + frames; padding, seek table, tags and other metadata blocks are"
            " container_bits",
    "wavpack": "WavPack blocks (block headers, codec metadata, bitstream, block checksums); the stored"
               " RIFF header/trailer, file extension, MD5 sub-blocks and trailing tags are container_bits",
    "mp4-alac": "the ALAC frames (mdat bodies) + the 24-byte ALAC magic cookie; the rest of the MP4 file"
                " (ftyp, moov sample tables, free, udta) is container_bits",
    "tta": "the 22-byte TTA1 header + frames; the seek table and any tags are container_bits",
}


def parse(kind: str, data: bytes) -> Layout:
    """Split ``data`` by the named format's rules."""
    try:
        parser = PARSERS[kind]
    except KeyError:
        raise ContainerError(f"unknown container kind {kind!r}; choose from {', '.join(PARSERS)}") from None
    return parser(data)
