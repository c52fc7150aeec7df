"""A frame's payload (layouts 2 to 6): wasted low bits, value tables, the kernel's words, FLAC's blocks.

Layouts 4 to 6 (integers little-endian; ``docs/formats.md`` specifies them)::

    head                 u8: the wasted bits w (the low bits zero in every sample of the frame, 0 for
                         digital silence) in bits 0-4; bit 5 set when an options byte follows; bit 6 + c
                         set when coded channel c is coded among its value table
    options              u8, where bit 5 says so (never 0): the frame's cascade variant in bits 0-3
                         (:data:`~trilobyte.hybrid.settings.VARIANTS`; 0, the model's settings); bit 4
                         set when the frame is held and a hold byte follows
    hold                 u8, where bit 4 says so: h - 1 in bits 0-3 and the phase p in bits 4-7: every
                         sample repeats the one before except at 0 and at p, p + h, p + 2h, ... (h 2 to
                         16, p below h); only those samples are coded, at the rate divided by h
    value tables         per set bit, in channel order, the packed table's length (u32) and the table
                         (:func:`trilobyte.hybrid.valueset.pack_table`: the values the channel takes,
                         shifted right by w)
    word count           u32
    words                u32 each: the kernel's range-coded words for the frame shifted right by w
    FLAC bitmap          ceil(blocks / 8) bytes: bit b % 8 (least significant first) of byte b // 8 set
                         when block b (of :data:`~trilobyte.hybrid.engine.BLOCK` samples) is FLAC's
    FLAC blocks          per set bit, in block order: the frame's length, then libFLAC's frame; the
                         length is one byte below 128, else three: 0x80 | (length >> 16), then
                         length & 0xFFFF as a u16 (a constant block's frame is 11 to 14 bytes: its
                         length costs one)

A layout-6 frame may be primed: the kernel first observes the samples before it (its lead, from the end of
the frame before, shifted right by w; never for a held frame), so its cascade and running scales start
from the signal rather than from silence; the codec says which frames are (:mod:`trilobyte.hybrid.codec`).
Layout 5's and 6's coder mixes each channel's recent values into its distribution
(:mod:`trilobyte.hybrid.recent`, 16-bit audio or narrower); layout 4's does not. Layout 3 has a variant
byte (the variant alone, 1 or more)
instead of the options byte, no hold, and value cells cut at the midpoints of neighbouring values
(:func:`~trilobyte.hybrid.valueset.cell_edges`; layouts 4 to 6: the mean of
:data:`~trilobyte.hybrid.valueset.CELL_MEANS` values each side). A frame is held where a sound was repeated
sample by sample to a higher rate (an 11 kHz effect played at 22 kHz): everything below, tables, words and
FLAC blocks, is then of its held samples. A layout-2 frame has a head of w alone
and no tables, and its kernel codes without the calibration (:mod:`trilobyte.hybrid.calibration`), which
layouts 3 to 6 always use. The encoder codes the
shifted frame once with the kernel, reading the words each block cost; where a coded channel uses few
of the values in its range (:func:`value_tables`), it codes the frame again among the channels' value
tables and keeps that if it is smaller, tables included. libFLAC codes each block at ``flac -8`` (the
unshifted samples). A block whose FLAC frame and its length cost fewer bits than the kernel's words for
it is FLAC's; if any is, the kernel codes the frame again with those blocks only observed
(:data:`~trilobyte.hybrid.kernel.OBSERVE`): its state evolves on the true samples either way, so the
other blocks cost what the first pass measured. The decoder decodes the FLAC blocks first, then the
kernel's words around them.
"""

from __future__ import annotations

import dataclasses
import struct

import numpy as np

from trilobyte.core.flacblocks import FlacBlockError, decode_block, encode_blocks
from trilobyte.hybrid.engine import BLOCK, FrameError, blocks, coded_channels, joint_mode, kernel_decode, kernel_words
from trilobyte.hybrid.model import HybridModel
from trilobyte.hybrid.settings import VARIANTS
from trilobyte.hybrid.valueset import (
    CELL_MEANS,
    ValueTableError,
    pack_table,
    spacing_bits,
    unpack_table,
    value_table,
)

LAYOUT = 6
LAYOUTS = (2, 3, 4, 5, 6)  # the layouts this module reads
# by layout: values each side whose mean places a cell's edge
CELLS = {2: 1, 3: 1, 4: CELL_MEANS, 5: CELL_MEANS, 6: CELL_MEANS}
RECENT_FROM = 5  # the first layout whose coder mixes in recent values (trilobyte.hybrid.recent)
LEAD_FROM = 6  # the first layout whose frames may be primed by the samples before them
VARIANT_BIT = 5  # of the head byte: set when a variant byte (layout 3) or an options byte (4 to 6) follows it
HOLD_BIT = 4  # of the options byte: set when a hold byte follows it
MAX_HOLD = 16  # samples a held value may last
TABLE_BIT = 6  # of the head byte: bit TABLE_BIT + c is set when coded channel c has a value table
MAX_FLAC_FRAME = (1 << 23) - 1  # a longer FLAC frame is never chosen
MIN_SPACING_BITS = 1 / 32  # a channel whose values could save fewer bits a sample is coded without a table
_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_LONG = struct.Struct("<BH")


def pack_length(length: int) -> bytes:
    """A FLAC frame's length: one byte below 128, else three."""
    return bytes([length]) if length < 0x80 else _LONG.pack(0x80 | length >> 16, length & 0xFFFF)


def unpack_length(data: bytes, at: int) -> tuple[int, int]:
    """(length, offset past it) of :func:`pack_length`'s bytes at ``at``; (-1, at) past the end."""
    if at >= len(data) or (data[at] >= 0x80 and at + _LONG.size > len(data)):
        return -1, at
    if data[at] < 0x80:
        return data[at], at + 1
    high, low = _LONG.unpack_from(data, at)
    return (high & 0x7F) << 16 | low, at + _LONG.size


def wasted_bits(samples: np.ndarray, bit_depth: int) -> int:
    """The low bits zero in every sample (FLAC's wasted bits), below ``bit_depth``; 0 for digital silence."""
    every = int(np.bitwise_or.reduce(np.asarray(samples, dtype=np.int64).ravel()))
    if every == 0:
        return 0
    return min((every & -every).bit_length() - 1, bit_depth - 1)


def hold_of(samples: np.ndarray) -> tuple[int, int]:
    """(h, p): the longest hold (at most :data:`MAX_HOLD`) for which every sample of the frame repeats the
    one before except at 0 and at p, p + h, p + 2h, ...; (1, 0) for a frame that is not held or is
    constant (nothing to gain)."""
    x = np.asarray(samples)
    changes = np.flatnonzero(np.any(x[1:] != x[:-1], axis=1)) + 1
    if len(changes) == 0:
        return 1, 0
    for h in range(MAX_HOLD, 1, -1):
        phase = changes % h
        if np.all(phase == phase[0]):
            return h, int(phase[0])
    return 1, 0


def held_starts(num_samples: int, hold: int, phase: int) -> np.ndarray:
    """Where each held value starts: 0, then p, p + h, ... below ``num_samples`` (p > 0 only)."""
    starts = np.arange(phase, num_samples, hold, dtype=np.int64)
    return starts if phase == 0 else np.concatenate(([0], starts))


def held_rate(sample_rate: int, hold: int) -> int:
    """The rate a held frame's values are coded at (it picks the model's stages and FLAC's header)."""
    return max(sample_rate // hold, 1)


def coded_frame(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int, int, int]:
    """(the samples the frame codes, their rate, h, p): the held values where the frame is held
    (:func:`hold_of`), at the rate divided by h; else the frame itself."""
    x = np.ascontiguousarray(samples, dtype=np.int64)
    hold, phase = hold_of(x)
    if hold == 1:
        return x, sample_rate, 1, 0
    return np.ascontiguousarray(x[held_starts(len(x), hold, phase)]), held_rate(sample_rate, hold), hold, phase


@dataclasses.dataclass
class Prepared:
    """What every try of one frame shares, made once by :func:`prepare`: the samples it codes (its held
    values where held) and their rate, h and p, the wasted bits w and the samples shifted by them; each
    stereo pairing's value tables once asked for (:meth:`value_tables`)."""

    x: np.ndarray
    rate: int
    hold: int
    phase: int
    wasted: int
    shifted: np.ndarray
    tables: dict[int, tuple[list[np.ndarray | None], int, bytes]] = dataclasses.field(default_factory=dict)

    def value_tables(self, joint: int) -> tuple[list[np.ndarray | None], int, bytes]:
        """:func:`value_tables` of the coded channels in stereo mode ``joint``."""
        if joint not in self.tables:
            self.tables[joint] = value_tables(coded_channels(self.shifted, joint))
        return self.tables[joint]


def prepare(samples: np.ndarray, bit_depth: int, sample_rate: int) -> Prepared:
    """The frame as :func:`encode_payload` codes it (:class:`Prepared`)."""
    x, rate, hold, phase = coded_frame(samples, sample_rate)
    w = wasted_bits(x, bit_depth)
    return Prepared(x, rate, hold, phase, w, x >> w)


def blocks_of(frame: Prepared, bit_depth: int) -> list[bytes]:
    """``flac -8``'s frame for each block of the frame as coded."""
    return encode_blocks(frame.x, frame.rate, bit_depth, BLOCK)


def flac_frames(samples: np.ndarray, bit_depth: int, sample_rate: int) -> list[bytes]:
    """``flac -8``'s frame for each block of the frame as coded (its held values where it is held)."""
    return blocks_of(prepare(samples, bit_depth, sample_rate), bit_depth)


def fallback_blocks(marks: np.ndarray, flac: list[bytes]) -> np.ndarray:
    """1 for each block whose FLAC frame (and its length) costs fewer bits than the kernel's words for it
    (``marks``: the words written by each block's end)."""
    kernel_bits = 32 * np.diff(marks, prepend=0)
    flac_bits = np.array([8 * len(pack_length(len(f)) + f) if len(f) <= MAX_FLAC_FRAME else 1 << 62 for f in flac])
    return (flac_bits < kernel_bits).astype(np.uint8)


def value_tables(coded: np.ndarray) -> tuple[list[np.ndarray | None], int, bytes]:
    """Each coded channel's value table where coding among it could pay (else ``None``), the head byte's
    bits that say which, and the tables' field of a layout-3 to layout-5 payload."""
    tables: list[np.ndarray | None] = []
    flags, field = 0, b""
    for c in range(coded.shape[1]):
        table = value_table(coded[:, c])
        gain = spacing_bits(coded[:, c], table)
        packed = pack_table(table) if gain > MIN_SPACING_BITS * len(coded) else b""
        if packed and gain > 8 * (len(packed) + _U32.size):
            tables.append(table)
            flags |= 1 << (TABLE_BIT + c)
            field += _U32.pack(len(packed)) + packed
        else:
            tables.append(None)
    return tables, flags, field


def encode_payload(model: HybridModel, samples: np.ndarray, bit_depth: int, sample_rate: int,
                   stereo: int | None = None, flac: list[bytes] | None = None, variant: int = 0,
                   lead: np.ndarray | None = None, prepared: Prepared | None = None) -> bytes:
    """The frame's payload in layout :data:`LAYOUT` (``flac``: :func:`flac_frames` of it, computed here unless given;
    ``variant``: the cascade's, :data:`~trilobyte.hybrid.settings.VARIANTS`; ``lead``: the samples before the
    frame that prime it, whole blocks, :func:`lead_of`; ``prepared``: :func:`prepare` of ``samples``, made
    once for several tries of the frame)."""
    frame = prepare(samples, bit_depth, sample_rate) if prepared is None else prepared
    x, rate, hold, phase, w, shifted = frame.x, frame.rate, frame.hold, frame.phase, frame.wasted, frame.shifted
    joint = joint_mode(model, shifted, stereo)  # the stereo mode every pass below codes in
    cells, mixed = CELLS[LAYOUT], LAYOUT >= RECENT_FROM
    led = coded_lead(lead, hold, w)
    words, marks = kernel_words(model, shifted, bit_depth, rate, joint, variant=variant, calibrate=True,
                                recent=mixed, lead=led)
    tables, flags, field = frame.value_tables(joint)
    if flags:
        tabled, tabled_marks = kernel_words(model, shifted, bit_depth, rate, joint, tables=tables,
                                            variant=variant, calibrate=True, cells=cells, recent=mixed, lead=led)
        if len(tabled) + len(field) < len(words):
            words, marks = tabled, tabled_marks
        else:
            tables, flags, field = [None] * x.shape[1], 0, b""
    flac = blocks_of(frame, bit_depth) if flac is None else flac
    if len(flac) != len(marks):
        raise ValueError(f"{len(flac)} FLAC frames for a frame of {len(marks)} blocks as coded")
    skip = fallback_blocks(marks, flac)
    if skip.any():
        words, _ = kernel_words(model, shifted, bit_depth, rate, joint, skip, tables, variant, True, cells, mixed,
                                led)
    chosen = b"".join(pack_length(len(f)) + f for f, s in zip(flac, skip, strict=True) if s)
    bitmap = np.packbits(skip, bitorder="little").tobytes()
    data = _head(w | flags, variant, hold, phase) + field + _U32.pack(len(words) // 4) + words + bitmap + chosen
    # the blocks were chosen one by one, the coder's last words uncounted: every block FLAC's may be smaller
    alternative = flac_only(flac, hold, phase)
    return alternative if alternative is not None and len(alternative) < len(data) else data


def pairing(model: HybridModel, frame: Prepared) -> int:
    """The stereo mode :func:`encode_payload` codes ``frame`` in unless told (FLAC's rule on the frame as
    coded; 0 for mono or a model without stereo modes)."""
    return joint_mode(model, frame.shifted)


def lead_of(samples: np.ndarray, start: int, lead: int) -> np.ndarray | None:
    """The ``lead`` samples before sample ``start`` of ``samples`` that prime the frame there (``None`` for
    none: the first frame, or a lead of 0)."""
    if lead <= 0 or start <= 0:
        return None
    if lead % BLOCK or lead > start:
        raise ValueError(f"a lead is whole blocks of {BLOCK} samples before the frame, not {lead} before {start}")
    return np.asarray(samples[start - lead: start], dtype=np.int64)


def coded_lead(lead: np.ndarray | None, hold: int, wasted: int) -> np.ndarray | None:
    """The lead as the kernel observes it: shifted right by the frame's wasted bits; none for a held frame
    (its samples are not at the lead's rate)."""
    if lead is None or hold > 1:
        return None
    return np.asarray(lead, dtype=np.int64) >> wasted


def flac_only(flac: list[bytes], hold: int = 1, phase: int = 0) -> bytes | None:
    """The payload that leaves every block to its FLAC frame (``None`` where one is too long to store)."""
    if any(len(f) > MAX_FLAC_FRAME for f in flac):
        return None
    bitmap = np.packbits(np.ones(len(flac), dtype=np.uint8), bitorder="little").tobytes()
    return _head(0, 0, hold, phase) + _U32.pack(0) + bitmap + b"".join(pack_length(len(f)) + f for f in flac)


def _head(head: int, variant: int, hold: int, phase: int) -> bytes:
    """The head byte (wasted bits and table flags in ``head``), then the options and hold bytes if any."""
    options = variant | (hold > 1) << HOLD_BIT
    data = _U8.pack(head | (options > 0) << VARIANT_BIT)
    if options:
        data += _U8.pack(options)
    if hold > 1:
        data += _U8.pack(hold - 1 | phase << 4)
    return data


def _read_head(payload: bytes, layout: int, channels: int, bit_depth: int) -> tuple[int, int, int, int, int, int]:
    """(wasted bits, table flags, cascade variant, h, p, offset past the head) of a frame's payload."""
    if len(payload) < 1:
        raise FrameError("a frame's payload is empty")
    w, flags = payload[0] & ((1 << VARIANT_BIT) - 1), payload[0] >> TABLE_BIT
    if w >= bit_depth:
        raise FrameError(f"a frame's wasted bits ({w}) reach its bit depth")
    if flags >> channels or (flags and layout == 2):
        raise FrameError(f"a frame's head announces value tables its {channels} channels cannot have")
    if not payload[0] >> VARIANT_BIT & 1:
        return w, flags, 0, 1, 0, 1
    options = payload[1] if len(payload) > 1 and layout >= 3 else 0
    variant = options if layout == 3 else options & ((1 << HOLD_BIT) - 1)
    if not 1 <= options < 1 << (HOLD_BIT + 1) or variant >= len(VARIANTS) or (layout == 3 and variant == 0):
        raise FrameError(f"a frame's options byte {options:#04x} names no known cascade variant (this decoder"
                         f" has 1..{len(VARIANTS) - 1}) or hold")
    if layout == 3 or not options >> HOLD_BIT & 1:
        return w, flags, variant, 1, 0, 2
    if len(payload) < 3 or (payload[2] >> 4) > (payload[2] & 15):
        raise FrameError("a frame's hold byte is missing or names a phase past its hold")
    return w, flags, variant, (payload[2] & 15) + 1, payload[2] >> 4, 3


def _read_tables(payload: bytes, at: int, flags: int, channels: int, bit_depth: int,
                 num_samples: int) -> tuple[list[np.ndarray | None], int]:
    """The value tables that the head's ``flags`` announce, from ``at``; (tables, offset past them)."""
    tables: list[np.ndarray | None] = []
    top = 1 << bit_depth  # a side channel's range, the widest a coded channel has
    for c in range(channels):
        if not flags >> c & 1:
            tables.append(None)
            continue
        if at + _U32.size > len(payload):
            raise FrameError("a frame's payload ends inside its value tables")
        (length,) = _U32.unpack_from(payload, at)
        at += _U32.size
        if at + length > len(payload):
            raise FrameError("a frame's payload ends inside its value tables")
        try:
            tables.append(unpack_table(payload[at: at + length], -top, top - 1, num_samples))
        except ValueTableError as err:
            raise FrameError(f"channel {c}: {err}") from err
        at += length
    return tables, at


def decode_payload(model: HybridModel, payload: bytes, num_samples: int, channels: int, bit_depth: int,
                   sample_rate: int, layout: int = LAYOUT, lead: np.ndarray | None = None) -> np.ndarray:
    """Exact inverse of :func:`encode_payload` (or of its layouts 2 to 5): ``(num_samples, channels)`` int64
    (``lead``: the decoded samples before the frame that primed it)."""
    if layout not in LAYOUTS:
        raise ValueError(f"frame layout {layout} is not one of {LAYOUTS}")
    if lead is not None and layout < LEAD_FROM:
        raise ValueError(f"frames of layout {layout} are not primed")
    w, flags, variant, hold, phase, at = _read_head(payload, layout, channels, bit_depth)
    starts = held_starts(num_samples, hold, phase) if hold > 1 else None
    length = num_samples if starts is None else len(starts)
    rate = held_rate(sample_rate, hold)
    tables, at = _read_tables(payload, at, flags, channels, bit_depth, length)
    if at + _U32.size > len(payload):
        raise FrameError("a frame's payload is shorter than its head")
    (n_words,) = _U32.unpack_from(payload, at)
    words_at = at + _U32.size
    at = words_at + 4 * n_words
    count = blocks(length)
    bitmap = payload[at: at + (count + 7) // 8]
    if at + len(bitmap) > len(payload) or len(bitmap) < (count + 7) // 8:
        raise FrameError("a frame's payload ends inside its words or its FLAC bitmap")
    skip = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    if skip[count:].any():
        raise FrameError("a frame's FLAC bitmap marks blocks past its end")
    skip = np.ascontiguousarray(skip[:count])
    x = np.zeros((length, channels), dtype=np.int64)
    at += len(bitmap)
    for b in np.flatnonzero(skip):
        size, at = unpack_length(payload, at)
        if size < 0:
            raise FrameError(f"a frame's payload ends before FLAC block {b}")
        frame = payload[at: at + size]
        at += size
        start, stop = b * BLOCK, min(length, (b + 1) * BLOCK)
        try:
            x[start:stop] = decode_block(frame, rate, channels, bit_depth, stop - start, BLOCK) >> w
        except FlacBlockError as err:
            raise FrameError(f"FLAC block {b}: {err}") from err
    if at != len(payload):
        raise FrameError(f"a frame's payload has {len(payload) - at} bytes past its last FLAC block")
    kernel_decode(model, payload[words_at: words_at + 4 * n_words], x, bit_depth, rate, skip, tables,
                  variant, layout >= 3, CELLS[layout], layout >= RECENT_FROM, coded_lead(lead, hold, w))
    if starts is not None:
        x = np.repeat(x, np.diff(np.append(starts, num_samples)), axis=0)
    return x << w
