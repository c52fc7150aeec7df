"""Read libFLAC's own frames: every subframe's predictor, warm-up and the exact residual it coded.

A small, independent FLAC decoder (RFC 9639) for streams that :func:`baselines.flac.codec.encode`
writes: frame headers (with their CRC-8), subframe types CONSTANT, VERBATIM, FIXED and LPC, wasted
bits, the four channel assignments, and each residual section, decoded by
:func:`baselines.rice.read_section`. Every frame's CRC-16 is checked, and the samples are rebuilt
from residual + predictor, so a caller can compare them with the input bit for bit.

Beyond the samples, each subframe keeps its residual, its Rice plan as libFLAC chose it (coding
method, partition order, per-partition parameters and escape widths, read from the stream) and its
exact size in bits, so the residual section can be recoded and counted (:func:`baselines.rice.plan_bits`)
and the residual distribution of FLAC compared with others'.

``python -m baselines.flac_frames`` runs this over datasets as a per-file coder ("flac-frames",
coded): libFLAC encodes, this module decodes and compares, and the result holds where the bits go
(headers, warm-up, coefficients, residuals) and the histogram of absolute residuals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from baselines import residuals, rice
from baselines.flac import codec as flac_codec
from baselines.flac.codec import FlacSettings
from baselines.flac.report import frames_report
from baselines.rice import RicePlan
from trilobyte.core.datasets import AudioClip

log = logging.getLogger("trilobyte.flac_frames")
METHOD = "flac-frames"
PACKAGES = ("pyflac", "numba")
CHANNEL_ASSIGNMENTS = ("independent", "left-side", "side-right", "mid-side")
FIXED_COEFFICIENTS = ((), (1,), (2, -1), (3, -3, 1), (4, -6, 4, -1))
REPLAN_MAX_ORDER = 8  # FLAC's subset limit on the partition order, for re-planning residual sections
_BLOCK_SIZES = {1: 192, 2: 576, 3: 1152, 4: 2304, 5: 4608, **{c: 256 << (c - 8) for c in range(8, 16)}}
_SAMPLE_RATES = {1: 88200, 2: 176400, 3: 192000, 4: 8000, 5: 16000, 6: 22050, 7: 24000, 8: 32000,
                 9: 44100, 10: 48000, 11: 96000}
_SAMPLE_SIZES = {1: 8, 2: 12, 4: 16, 5: 20, 6: 24, 7: 32}


class FlacFrameError(ValueError):
    """The stream is not FLAC as this reader knows it, or it is corrupt (bad CRC, bad field, truncated)."""


# ----------------------------------------------------------------------------------------- bits


class BitReader:
    """MSB-first reader over bytes at an absolute bit position; reads past ``limit`` raise."""

    def __init__(self, data: bytes, pos: int = 0, limit: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.limit = 8 * len(data) if limit is None else limit

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        end = self.pos + n
        if end > self.limit:
            raise FlacFrameError("the stream ends inside a frame (truncated)")
        first, last = self.pos >> 3, (end + 7) >> 3
        value = (int.from_bytes(self.data[first:last], "big") >> ((last << 3) - end)) & ((1 << n) - 1)
        self.pos = end
        return value

    def signed(self, n: int) -> int:
        v = self.read(n)
        return v - (1 << n) if n and v >> (n - 1) else v

    def unary(self) -> int:
        """Zero bits before the next one bit (the one is consumed)."""
        count = 0
        while self.read(1) == 0:
            count += 1
        return count

    def align(self) -> int:
        """Skip to the next byte boundary; returns the number of bits skipped."""
        skip = -self.pos % 8
        self.read(skip)
        return skip


def read_signed_block(data: bytes, pos: int, count: int, width: int) -> np.ndarray:
    """``count`` consecutive ``width``-bit two's complement integers starting at bit ``pos``."""
    if count == 0 or width == 0:
        return np.zeros(count, dtype=np.int64)
    end = pos + count * width
    if end > 8 * len(data):
        raise FlacFrameError("the stream ends inside a verbatim subframe (truncated)")
    first = pos >> 3
    bits = np.unpackbits(np.frombuffer(data, np.uint8, count=((end + 7) >> 3) - first, offset=first))
    bits = bits[pos - 8 * first : end - 8 * first].reshape(count, width).astype(np.int64)
    values = bits @ (np.int64(1) << np.arange(width - 1, -1, -1, dtype=np.int64))
    return np.where(values >> (width - 1), values - (np.int64(1) << width), values)


def _table(poly: int, width: int) -> np.ndarray:
    top, mask = 1 << (width - 1), (1 << width) - 1
    table = np.zeros(256, dtype=np.int64)
    for b in range(256):
        c = b << (width - 8)
        for _ in range(8):
            c = ((c << 1) ^ poly) & mask if c & top else (c << 1) & mask
        table[b] = c
    return table


_CRC8 = _table(0x07, 8)
_CRC16 = _table(0x8005, 16)


@njit(cache=True)
def _crc(buf: np.ndarray, table: np.ndarray, width: int) -> int:
    crc = 0
    shift = width - 8
    mask = (1 << width) - 1
    for b in buf:
        crc = ((crc << 8) & mask) ^ table[((crc >> shift) ^ b) & 0xFF]
    return crc


def crc8(data: bytes) -> int:
    """FLAC's frame-header CRC-8 (polynomial x^8 + x^2 + x + 1, initial 0)."""
    return int(_crc(np.frombuffer(data, np.uint8), _CRC8, 8))


def crc16(data: bytes) -> int:
    """FLAC's frame CRC-16 (polynomial x^16 + x^15 + x^2 + 1, initial 0)."""
    return int(_crc(np.frombuffer(data, np.uint8), _CRC16, 16))


@njit(cache=True)
def _restore(residual: np.ndarray, warmup: np.ndarray, coefs: np.ndarray, shift: int) -> np.ndarray:
    """s[i] = residual[i - order] + (sum_j coefs[j] * s[i - 1 - j]) >> shift, after the warm-up."""
    order = warmup.shape[0]
    out = np.empty(order + residual.shape[0], dtype=np.int64)
    out[:order] = warmup
    for i in range(order, out.shape[0]):
        s = np.int64(0)
        for j in range(coefs.shape[0]):
            s += coefs[j] * out[i - 1 - j]
        out[i] = residual[i - order] + (s >> shift)
    return out


# ------------------------------------------------------------------------------------ structures


@dataclass(frozen=True)
class StreamInfo:
    """The STREAMINFO block: block and frame size bounds, format, length and MD5."""

    min_block_size: int
    max_block_size: int
    min_frame_size: int
    max_frame_size: int
    sample_rate: int
    channels: int
    bits_per_sample: int
    total_samples: int
    md5: bytes


@dataclass(frozen=True)
class Subframe:
    """One channel of one frame as libFLAC coded it.

    ``kind`` is constant, verbatim, fixed or lpc; ``order`` the predictor order (0 for constant and
    verbatim); ``coefficients`` the predictor (the fixed polynomial's, or the quantized LPC ones with
    ``precision`` bits and right ``shift``). ``residual`` is what the residual section coded (empty
    for constant and verbatim) and ``rice`` its plan with ``bits`` = the section's exact size.
    ``signal`` is the subframe's decoded samples (wasted bits restored, before stereo decorrelation).
    Bit positions are absolute in the stream.
    """

    kind: str
    order: int
    sample_bits: int
    wasted_bits: int
    warmup: np.ndarray
    coefficients: np.ndarray
    precision: int
    shift: int
    residual: np.ndarray
    rice: RicePlan | None
    start_bit: int
    residual_bit: int
    end_bit: int
    signal: np.ndarray = field(repr=False)

    @property
    def bits(self) -> int:
        return self.end_bit - self.start_bit

    @property
    def residual_bits(self) -> int:
        return self.end_bit - self.residual_bit if self.rice is not None else 0

    @property
    def header_bits(self) -> int:
        """Type byte and wasted-bits field."""
        return 8 + (self.wasted_bits if self.wasted_bits else 0)

    @property
    def warmup_bits(self) -> int:
        return self.order * self.sample_bits if self.kind in ("fixed", "lpc") else 0

    @property
    def coefficient_bits(self) -> int:
        return 4 + 5 + self.order * self.precision if self.kind == "lpc" else 0

    @property
    def sample_data_bits(self) -> int:
        """Bits of raw samples in constant and verbatim subframes."""
        return self.bits - self.header_bits if self.kind in ("constant", "verbatim") else 0


@dataclass(frozen=True)
class Frame:
    """One FLAC frame: its header fields, subframes and decoded samples ``(block_size, channels)``."""

    offset: int
    size: int
    header_bits: int
    number: int
    variable_block_size: bool
    block_size: int
    sample_rate: int
    bits_per_sample: int
    channel_assignment: str
    subframes: tuple[Subframe, ...]
    padding_bits: int
    samples: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class FlacStream:
    """A parsed FLAC stream: STREAMINFO, the metadata layout and every frame."""

    info: StreamInfo
    layout: flac_codec.FlacLayout
    frames: tuple[Frame, ...]

    def samples(self) -> np.ndarray:
        """All decoded samples, ``(total_samples, channels)`` int64."""
        if not self.frames:
            return np.zeros((0, self.info.channels), dtype=np.int64)
        return np.concatenate([f.samples for f in self.frames])

    def subframes(self) -> Iterator[Subframe]:
        for f in self.frames:
            yield from f.subframes

    def residual(self) -> np.ndarray:
        """Every residual libFLAC coded, all frames and channels (int64)."""
        parts = [s.residual for s in self.subframes() if s.residual.size]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def budget(self) -> dict[str, int]:
        """Where the payload's bits go; the parts add up to the payload exactly."""
        subs = list(self.subframes())
        out = {
            "streaminfo": 8 * flac_codec.STREAMINFO_BYTES,
            "frame_headers": sum(f.header_bits for f in self.frames),
            "subframe_headers": sum(s.header_bits for s in subs),
            "warmup": sum(s.warmup_bits for s in subs),
            "lpc_coefficients": sum(s.coefficient_bits for s in subs),
            "residual": sum(s.residual_bits for s in subs),
            "constant_verbatim": sum(s.sample_data_bits for s in subs),
            "padding": sum(f.padding_bits for f in self.frames),
            "frame_crc": 16 * len(self.frames),
        }
        out["total"] = sum(out.values())
        return out

    def subframe_counts(self) -> dict[str, int]:
        counts = {k: 0 for k in ("constant", "verbatim", "fixed", "lpc")}
        for s in self.subframes():
            counts[s.kind] += 1
        return counts


# ------------------------------------------------------------------------------------------ parse


def parse_streaminfo(data: bytes, layout: flac_codec.FlacLayout | None = None) -> StreamInfo:
    """The STREAMINFO block of a FLAC stream."""
    layout = layout or flac_codec.parse_layout(data)
    start = layout.frames_offset - sum(4 + length for _, length in layout.blocks) + 4
    body = data[start : start + 34]
    r = BitReader(body)
    fields = [r.read(n) for n in (16, 16, 24, 24, 20, 3, 5, 36)]
    return StreamInfo(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5] + 1, fields[6] + 1,
                      fields[7], body[18:34])


def _coded_number(r: BitReader) -> int:
    """FLAC's UTF-8-like coded frame or sample number."""
    first = r.read(8)
    if first < 0x80:
        return first
    length = 0
    while first & (0x80 >> length):
        length += 1
    if length == 1 or length > 7:
        raise FlacFrameError(f"invalid coded frame number (first byte {first:#04x})")
    value = first & (0x7F >> length)
    for _ in range(length - 1):
        b = r.read(8)
        if b >> 6 != 0b10:
            raise FlacFrameError("invalid coded frame number continuation byte")
        value = (value << 6) | (b & 0x3F)
    return value


def _residual_plan(data: bytes, start: int, end: int, residual: np.ndarray, order: int, block_size: int) -> RicePlan:
    """libFLAC's choices for a residual section, read back from the stream and checked against its end."""
    r = BitReader(data, start)
    param_bits = 4 if r.read(2) == 0 else 5
    partition_order = r.read(4)
    escape = (1 << param_bits) - 1
    u = rice.fold(residual)
    size = block_size >> partition_order
    params, raw, i = [], [], 0
    for p in range(1 << partition_order):
        count = size - order if p == 0 else size
        k = r.read(param_bits)
        if k == escape:
            width = r.read(5)
            r.pos += width * count
            raw.append(width)
        else:
            r.pos += int((u[i : i + count] >> k).sum()) + count * (k + 1)
            raw.append(0)
        params.append(k)
        i += count
    if r.pos != end:
        raise FlacFrameError(f"residual section layout ends at bit {r.pos}, the decoder at {end}")
    return RicePlan(param_bits, partition_order, np.array(params, np.int64), np.array(raw, np.int64), end - start)


def _read_subframe(data: bytes, r: BitReader, block_size: int, bits: int, frame_end_bound: int) -> Subframe:
    start = r.pos
    if r.read(1):
        raise FlacFrameError("subframe header's zero bit is set")
    code = r.read(6)
    wasted = r.unary() + 1 if r.read(1) else 0
    width = bits - wasted
    if width <= 0:
        raise FlacFrameError(f"{wasted} wasted bits leave no sample bits of {bits}")
    empty = np.zeros(0, dtype=np.int64)
    precision = shift = 0
    coefs = empty
    if code == 0:  # CONSTANT
        value = r.signed(width)
        return Subframe("constant", 0, width, wasted, empty, empty, 0, 0, empty, None, start, r.pos, r.pos,
                        np.full(block_size, value << wasted, dtype=np.int64))
    if code == 1:  # VERBATIM
        signal = read_signed_block(data, r.pos, block_size, width)
        r.pos += block_size * width
        if r.pos > r.limit:
            raise FlacFrameError("the stream ends inside a verbatim subframe (truncated)")
        return Subframe("verbatim", 0, width, wasted, empty, empty, 0, 0, empty, None, start, r.pos, r.pos,
                        signal << wasted)
    if 8 <= code <= 12:
        kind, order = "fixed", code - 8
        warmup = np.array([r.signed(width) for _ in range(order)], dtype=np.int64)
        coefs = np.array(FIXED_COEFFICIENTS[order], dtype=np.int64)
    elif code >= 32:
        kind, order = "lpc", code - 31
        warmup = np.array([r.signed(width) for _ in range(order)], dtype=np.int64)
        precision = r.read(4) + 1
        if precision == 16:
            raise FlacFrameError("invalid LPC coefficient precision (1111)")
        shift = r.signed(5)
        if shift < 0:
            raise FlacFrameError(f"negative LPC shift {shift}")
        coefs = np.array([r.signed(precision) for _ in range(order)], dtype=np.int64)
    else:
        raise FlacFrameError(f"reserved subframe type {code:#08b}")
    if order > block_size:
        raise FlacFrameError(f"predictor order {order} exceeds the block size {block_size}")
    residual_bit = r.pos
    first = residual_bit >> 3
    window = data[first : min(len(data), frame_end_bound)]
    try:
        residual, end = rice.read_section(window, block_size - order, order, residual_bit - 8 * first)
    except rice.RiceError as err:
        if frame_end_bound >= len(data):
            raise FlacFrameError(f"residual section: {err}") from err
        window = data[first:]  # a frame larger than the bound guessed: read on to the end of the stream
        try:
            residual, end = rice.read_section(window, block_size - order, order, residual_bit - 8 * first)
        except rice.RiceError as err2:
            raise FlacFrameError(f"residual section: {err2}") from err2
    end += 8 * first
    r.pos = end
    plan = _residual_plan(data, residual_bit, end, residual, order, block_size)
    signal = _restore(residual, warmup, coefs, shift)
    return Subframe(kind, order, width, wasted, warmup, coefs, precision, shift, residual, plan, start,
                    residual_bit, end, signal << wasted)


def _decorrelate(signals: list[np.ndarray], assignment: str) -> np.ndarray:
    if assignment == "independent":
        return np.stack(signals, axis=1)
    a, b = signals
    if assignment == "left-side":
        left, right = a, a - b
    elif assignment == "side-right":
        left, right = a + b, b
    else:  # mid-side
        mid = (a << 1) | (b & 1)
        left, right = (mid + b) >> 1, (mid - b) >> 1
    return np.stack([left, right], axis=1)


def read_frame(data: bytes, offset: int, info: StreamInfo) -> Frame:
    """The frame starting at byte ``offset`` (CRC-8 and CRC-16 checked)."""
    r = BitReader(data, 8 * offset)
    if r.read(15) != 0x7FFC:
        raise FlacFrameError(f"no frame sync code at byte {offset}")
    variable = bool(r.read(1))
    bs_code, sr_code, ch_code, ss_code = r.read(4), r.read(4), r.read(4), r.read(3)
    if r.read(1):
        raise FlacFrameError(f"frame at byte {offset}: reserved header bit is set")
    number = _coded_number(r)
    if bs_code == 0:
        raise FlacFrameError(f"frame at byte {offset}: reserved block size code")
    block_size = r.read(8) + 1 if bs_code == 6 else r.read(16) + 1 if bs_code == 7 else _BLOCK_SIZES[bs_code]
    if sr_code == 0:
        sample_rate = info.sample_rate
    elif sr_code == 12:
        sample_rate = r.read(8) * 1000
    elif sr_code == 13:
        sample_rate = r.read(16)
    elif sr_code == 14:
        sample_rate = r.read(16) * 10
    elif sr_code == 15:
        raise FlacFrameError(f"frame at byte {offset}: invalid sample rate code")
    else:
        sample_rate = _SAMPLE_RATES[sr_code]
    if ss_code == 3:
        raise FlacFrameError(f"frame at byte {offset}: reserved sample size code")
    bits = info.bits_per_sample if ss_code == 0 else _SAMPLE_SIZES[ss_code]
    if ch_code > 10:
        raise FlacFrameError(f"frame at byte {offset}: reserved channel assignment {ch_code}")
    assignment = CHANNEL_ASSIGNMENTS[0] if ch_code < 8 else CHANNEL_ASSIGNMENTS[ch_code - 7]
    channels = ch_code + 1 if ch_code < 8 else 2
    if channels != info.channels:
        raise FlacFrameError(f"frame at byte {offset} has {channels} channels, STREAMINFO {info.channels}")
    header_end = r.pos >> 3
    if r.read(8) != crc8(data[offset:header_end]):
        raise FlacFrameError(f"frame at byte {offset}: header CRC-8 mismatch")
    header_bits = r.pos - 8 * offset
    side = {"left-side": 1, "side-right": 0, "mid-side": 1}.get(assignment)
    # a bound on the frame's size for the residual reader (a larger frame is read on to the end)
    guess = max(info.max_frame_size, (channels * block_size * (bits + 1) + 7) // 8 + 64)
    bound = offset + 2 * guess
    subframes = tuple(
        _read_subframe(data, r, block_size, bits + (1 if c == side else 0), bound) for c in range(channels)
    )
    padding = r.align()
    crc_end = r.pos >> 3
    if r.read(16) != crc16(data[offset:crc_end]):
        raise FlacFrameError(f"frame at byte {offset}: CRC-16 mismatch")
    samples = _decorrelate([s.signal for s in subframes], assignment)
    return Frame(offset, (r.pos >> 3) - offset, header_bits, number, variable, block_size, sample_rate, bits,
                 assignment, subframes, padding, samples)


def read_stream(data: bytes) -> FlacStream:
    """Parse a whole FLAC stream: metadata layout, STREAMINFO and every frame."""
    try:
        layout = flac_codec.parse_layout(data)
    except flac_codec.FlacError as err:
        raise FlacFrameError(str(err)) from err
    info = parse_streaminfo(data, layout)
    frames, offset, total = [], layout.frames_offset, 0
    while offset < len(data):
        frame = read_frame(data, offset, info)
        frames.append(frame)
        offset += frame.size
        total += frame.block_size
    if info.total_samples and total != info.total_samples:
        raise FlacFrameError(f"frames hold {total} samples, STREAMINFO says {info.total_samples}")
    return FlacStream(info, layout, tuple(frames))


# ------------------------------------------------------------------------------------- checking


def residual_section_bits(sub: Subframe) -> int:
    """The residual section's size recomputed by :func:`baselines.rice.plan_bits` from libFLAC's plan."""
    if sub.rice is None:
        return 0
    p = sub.rice
    return rice.plan_bits(sub.residual, p.partition_order, p.parameters, p.raw_bits, sub.order, p.param_bits)


def replanned_bits(sub: Subframe, max_partition_order: int = REPLAN_MAX_ORDER) -> int:
    """The residual section's size under :func:`baselines.rice.plan`'s exact search (same residuals)."""
    if sub.rice is None:
        return 0
    block = sub.residual.size + sub.order
    limit = max_partition_order
    while limit and (block % (1 << limit) or (block >> limit) <= sub.order):
        limit -= 1
    return rice.bit_count(sub.residual, sub.order, limit)


def encode_and_read(clip_samples: np.ndarray, sample_rate: int, bit_depth: int,
                    settings: FlacSettings) -> tuple[bytes, FlacStream]:
    """libFLAC's stream for the samples, and its parse; raises if the parse does not give them back."""
    data = flac_codec.encode(clip_samples, sample_rate, bit_depth, settings)
    stream = read_stream(data)
    if not np.array_equal(stream.samples(), clip_samples):
        raise FlacFrameError("samples rebuilt from libFLAC's residuals and predictors differ from the input")
    return data, stream


# ----------------------------------------------------------------------------------- file coder


@dataclass(frozen=True)
class FlacFramesCoder:
    """libFLAC encodes; this module's decoder reads the frames back and compares (coded mode)."""

    settings: FlacSettings
    name: str = METHOD
    mode: str = "coded"

    def config(self) -> dict[str, Any]:
        return {**self.settings.as_dict(), "libflac": flac_codec.libflac_version()}

    def config_name(self) -> str:
        return self.settings.name

    def report_columns(self) -> tuple[str, ...]:
        return frames_report(self.settings.as_dict())[0]

    def report_label(self) -> str:
        return frames_report(self.settings.as_dict())[1]

    def finish(self, result: Any) -> Any:
        """The result with the dataset's merged residual histogram in its ``extra``."""
        hist = residuals.from_rows(result.files)
        if hist is not None:
            result.extra["residual_histogram"] = hist
        return result

    def result_extra(self) -> dict[str, Any]:
        return {
            "encoder": "libFLAC via pyflac",
            "decoder": "baselines.flac_frames (frames parsed, samples rebuilt from residual + predictor)",
            "payload": "fLaC marker + STREAMINFO + frames; other metadata blocks are container_bits",
            "residual_histogram_bins": "baselines.residuals.EDGES",
            "replan": f"baselines.rice.plan over partition orders 0..{REPLAN_MAX_ORDER}, same residuals",
        }

    def code_file(self, clip: AudioClip) -> Any:
        from trilobyte.core.protocol import FileRate

        start = time.perf_counter()
        _, stream = encode_and_read(clip.samples, clip.sample_rate, clip.bit_depth, self.settings)
        done = time.perf_counter()
        subs = list(stream.subframes())
        budget = stream.budget()
        payload = 8 * stream.layout.payload_bytes
        if budget["total"] != payload:
            raise FlacFrameError(f"{clip.id}: bit budget {budget['total']} != payload {payload}")
        return FileRate.for_clip(
            clip,
            payload,
            container_bits=8 * stream.layout.container_bytes,
            seconds=done - start,
            extra={
                "bits": budget,
                "subframes": stream.subframe_counts(),
                "residual_bits_replanned": sum(replanned_bits(s) for s in subs),
                "residual_histogram": residuals.compact(residuals.histogram(stream.residual())),
            },
        )


__all__ = [
    "BitReader",
    "FlacFrameError",
    "FlacFramesCoder",
    "FlacStream",
    "Frame",
    "StreamInfo",
    "Subframe",
    "crc8",
    "crc16",
    "encode_and_read",
    "read_frame",
    "read_stream",
    "replanned_bits",
    "residual_section_bits",
]
