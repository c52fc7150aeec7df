"""Exact integer samples out of instrument sample banks: SoundFont 2 (``.sf2``) and GUS patches (``.pat``).

A bank stores each recorded note or hit as plain PCM. These readers return those integers unchanged
(no resampling, no envelope, no looping): SF2's 16-bit ``smpl`` chunk, widened to 24 bits where an
``sm24`` chunk holds the low bytes, and GUS patch waves of 8 or 16 bits, signed or unsigned (unsigned
ones are re-centred exactly). SF2 stereo pairs (a left sample linked to a right one of the same length
and rate) come back as one two-channel sample.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class BankError(ValueError):
    """A sample bank whose structure is not what its format promises; the message names the file."""


@dataclass(frozen=True)
class BankSample:
    """One sample of a bank: ``samples`` is int32, shape ``(num_samples, channels)``."""

    name: str
    samples: np.ndarray
    sample_rate: int
    bit_depth: int


# -- SoundFont 2 ------------------------------------------------------------------------------------

SHDR = struct.Struct("<20sIIIIIBbHH")  # name, start, end, loop start, loop end, rate, pitch, correction, link, type
SF2_MONO, SF2_RIGHT, SF2_LEFT, SF2_ROM = 1, 2, 4, 0x8000


def _riff_chunks(data: bytes, start: int, end: int, path: Path) -> dict[bytes, bytes]:
    """The chunks between ``start`` and ``end``, by id; LIST chunks are opened one level."""
    found: dict[bytes, bytes] = {}
    offset = start
    while offset + 8 <= end:
        cid, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if body + size > end:
            raise BankError(f"{path}: chunk {cid!r} runs past the end of the file")
        if cid == b"LIST":
            found.update(_riff_chunks(data, body + 4, body + size, path))
        else:
            found[cid] = data[body : body + size]
        offset = body + size + (size & 1)
    return found


def read_sf2(path: Path | str) -> list[BankSample]:
    """Every sample of a SoundFont 2 file, stereo pairs joined, in the order of its sample headers."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise BankError(f"{path}: not a SoundFont 2 file")
    chunks = _riff_chunks(data, 12, min(len(data), 8 + struct.unpack_from("<I", data, 4)[0]), path)
    if b"smpl" not in chunks or b"shdr" not in chunks:
        raise BankError(f"{path}: no smpl or shdr chunk")
    pcm = np.frombuffer(chunks[b"smpl"], dtype="<i2").astype(np.int32)
    depth = 16
    low = chunks.get(b"sm24")
    if low is not None and len(low) >= pcm.size:
        pcm = (pcm << 8) | np.frombuffer(low[: pcm.size], dtype=np.uint8).astype(np.int32)
        depth = 24
    headers = [SHDR.unpack_from(chunks[b"shdr"], i) for i in range(0, len(chunks[b"shdr"]) - SHDR.size, SHDR.size)]
    return _sf2_samples(headers, pcm, depth, path)


def _sf2_samples(headers: list[tuple], pcm: np.ndarray, depth: int, path: Path) -> list[BankSample]:
    used: set[int] = set()
    out = []
    for index, (raw_name, start, end, _ls, _le, rate, _p, _c, link, kind) in enumerate(headers):
        if index in used or kind & SF2_ROM:
            continue
        if not start < end <= pcm.size or rate <= 0:
            raise BankError(f"{path}: sample {index} has bounds {start}..{end} of {pcm.size} or rate {rate}")
        name = raw_name.split(b"\0")[0].decode("latin-1").strip()
        wave = pcm[start:end, None]
        if kind in (SF2_LEFT, SF2_RIGHT) and 0 <= link < len(headers) and link not in used:
            other = headers[link]
            if other[2] - other[1] == end - start and other[5] == rate and other[1] < other[2] <= pcm.size:
                partner = pcm[other[1] : other[2], None]
                wave = np.hstack([wave, partner] if kind == SF2_LEFT else [partner, wave])
                used.add(link)
        used.add(index)
        out.append(BankSample(name, np.ascontiguousarray(wave), int(rate), depth))
    return out


# -- GUS patches ------------------------------------------------------------------------------------

GUS_MAGIC = (b"GF1PATCH110\0", b"GF1PATCH100\0")
GUS_HEADER = 239  # patch header (129) + instrument header (63) + layer header (47)
GUS_WAVE = struct.Struct("<7sBIIIHIIIhB6s6s6sBHH36s")  # 96 bytes per wave header
GUS_16BIT, GUS_UNSIGNED = 1, 2


def read_gus_patch(path: Path | str) -> list[BankSample]:
    """Every wave of a Gravis UltraSound patch (``.pat``), each at its own rate and depth."""
    path = Path(path)
    data = path.read_bytes()
    if data[:12] not in GUS_MAGIC or len(data) < GUS_HEADER:
        raise BankError(f"{path}: not a GUS patch")
    count = data[198]  # the layer header's sample count
    offset, out = GUS_HEADER, []
    for index in range(count):
        if offset + GUS_WAVE.size > len(data):
            raise BankError(f"{path}: wave {index} header runs past the end of the file")
        fields = GUS_WAVE.unpack_from(data, offset)
        name, size, rate, modes = fields[0], fields[2], fields[5], fields[14]
        offset += GUS_WAVE.size
        if offset + size > len(data) or rate <= 0:
            raise BankError(f"{path}: wave {index} ({size} bytes at {rate} Hz) does not fit the file")
        wide = bool(modes & GUS_16BIT)
        dtype = ("<u2" if wide else "u1") if modes & GUS_UNSIGNED else ("<i2" if wide else "i1")
        wave = np.frombuffer(data, dtype=dtype, count=size // (2 if wide else 1), offset=offset).astype(np.int32)
        if modes & GUS_UNSIGNED:
            wave -= 1 << (15 if wide else 7)
        offset += size
        label = name.split(b"\0")[0].decode("latin-1").strip() or f"wave{index}"
        out.append(BankSample(f"{index:02d}-{label}", wave[:, None], int(rate), 16 if wide else 8))
    return out
