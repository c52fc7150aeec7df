"""Exact integer PCM audio I/O and the integer-only bit-depth conversions.

Samples are always signed integers in an ``int32`` array of shape ``(num_samples, channels)``
holding the exact PCM values of the file (a 24-bit sample lies in ``[-2**23, 2**23)``).
No floating-point value ever touches a sample. FLAC is decoded by libFLAC (any legal stream, every
depth from 4 to 32 bits); WAV and AIFF by libsndfile (8, 16 and 24-bit integer PCM).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from decimal import Decimal, getcontext
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

from trilobyte.core import libflac

# Depths a dataset can be evaluated at (the conversions' targets); files may hold any depth in
# FLAC_BIT_DEPTHS (FLAC) or SUPPORTED_BIT_DEPTHS (WAV, AIFF), and every sample keeps its file's depth.
SUPPORTED_BIT_DEPTHS = (8, 16, 24)
FLAC_BIT_DEPTHS = tuple(range(4, 33))
MAX_BIT_DEPTH = 32
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff")
MU = 255

# libsndfile subtypes that hold exact integer PCM, with their bit depth.
_PCM_SUBTYPES = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24}
_WRITE_SUBTYPE = {("WAV", 8): "PCM_U8", ("FLAC", 8): "PCM_S8", ("AIFF", 8): "PCM_S8"}


class AudioError(ValueError):
    """A file that cannot be read as exact integer PCM; the message says why and names the file."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, without reading its samples."""

    path: Path
    sample_rate: int
    channels: int
    bit_depth: int
    num_samples: int
    container: str


def _existing(path: Path | str) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    return path


def _is_flac(path: Path, head: bytes) -> bool:
    """FLAC by content (``fLaC``, after an optional ID3v2 tag) or by name unless the bytes say WAV/AIFF."""
    if head[:4] in (b"RIFF", b"RF64", b"FORM"):
        return False
    if path.suffix.lower() == ".flac":
        return True
    offset = libflac.id3v2_length(head)
    return head[offset : offset + 4] == b"fLaC"


def _flac_problem(path: Path, data: bytes, err: libflac.FlacDecodeError) -> AudioError:
    """The refusal of a FLAC file, saying plainly when bytes before ``fLaC`` are the cause."""
    start = libflac.id3v2_length(data)
    marker = data.find(b"fLaC")
    if marker > start and data[start : start + 4] != b"fLaC":
        return AudioError(
            f"{path}: not a FLAC stream: {marker - start} unparsable byte(s) come before the 'fLaC' marker"
            " (libFLAC loses sync there, and flac -d refuses it too)"
        )
    return AudioError(f"{path}: {err}")


def _decode_flac(path: Path, data: bytes) -> tuple[np.ndarray, AudioInfo]:
    try:
        stream = libflac.decode_flac(data)
    except libflac.FlacDecodeError as err:
        raise _flac_problem(path, data, err) from err
    info = AudioInfo(
        path, stream.sample_rate, stream.samples.shape[1], stream.bit_depth, stream.samples.shape[0], "FLAC"
    )
    return stream.samples, info


def _probe_flac(path: Path) -> AudioInfo:
    """A FLAC file's STREAMINFO; a stream of unknown length (or with none) is decoded to count it."""
    data = path.read_bytes()
    try:
        header = libflac.read_stream_header(data)
    except libflac.FlacDecodeError as err:
        raise AudioError(f"{path}: {err}") from err
    if header is None or header.total_samples == 0:
        return _decode_flac(path, data)[1]
    return AudioInfo(path, header.sample_rate, header.channels, header.bit_depth, header.total_samples, "FLAC")


def probe(path: Path | str) -> AudioInfo:
    """Read a file's header and check that it holds integer PCM we can read exactly."""
    path = _existing(path)
    with path.open("rb") as handle:
        head = handle.read(64)
    if _is_flac(path, head):
        return _probe_flac(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: not a readable WAV/FLAC/AIFF file ({err})") from err
    if info.format not in ("WAV", "WAVEX", "FLAC", "AIFF"):
        raise AudioError(f"{path}: unsupported container {info.format!r} (use WAV, FLAC or AIFF)")
    bit_depth = _PCM_SUBTYPES.get(info.subtype)
    if bit_depth is None:
        raise AudioError(
            f"{path}: sample format {info.subtype} ({info.subtype_info}) is not 8, 16 or 24-bit integer PCM;"
            " float and 32-bit audio are not supported"
        )
    if info.frames <= 0:
        raise AudioError(f"{path}: holds no samples")
    if info.format in ("WAV", "WAVEX", "AIFF"):
        _check_chunk_lengths(path, info.format)
    return AudioInfo(path, int(info.samplerate), int(info.channels), bit_depth, int(info.frames), info.format)


def _check_chunk_lengths(path: Path, container: str) -> None:
    """Refuse a RIFF/AIFF file whose sample chunk claims more bytes than the file holds.

    libsndfile quietly reads what is there from a truncated WAV; a benchmark must not.
    """
    data = path.read_bytes()
    if container in ("WAV", "WAVEX"):
        if data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
            raise AudioError(f"{path}: not a RIFF/WAVE file")
        byte_order, pos, data_tag = "<", 12, b"data"
    else:
        if data[:4] != b"FORM" or data[8:12] not in (b"AIFF", b"AIFC"):
            raise AudioError(f"{path}: not an AIFF file")
        byte_order, pos, data_tag = ">", 12, b"SSND"
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        (size,) = struct.unpack(byte_order + "I", data[pos + 4 : pos + 8])
        if tag == data_tag:
            if data[:4] == b"RF64" or size == 0xFFFFFFFF:
                return  # 64-bit sizes live in the ds64 chunk; libsndfile checks those
            if pos + 8 + size > len(data):
                raise AudioError(
                    f"{path}: truncated file: its {tag.decode()} chunk declares {size} bytes"
                    f" but only {len(data) - pos - 8} follow"
                )
            return
        pos += 8 + size + (size & 1)
    raise AudioError(f"{path}: no {data_tag.decode()} chunk (truncated or corrupt file)")


def read_pcm(path: Path | str) -> tuple[np.ndarray, AudioInfo]:
    """Read a file's exact integer samples, shape ``(num_samples, channels)``, dtype ``int32``."""
    path = _existing(path)
    data = path.read_bytes()
    if _is_flac(path, data[:64]):
        return _decode_flac(path, data)
    info = probe(path)
    try:
        with sf.SoundFile(str(info.path)) as handle:
            raw = handle.read(dtype="int32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{info.path}: truncated or corrupt audio data ({err})") from err
    if raw.shape[0] != info.num_samples:
        raise AudioError(
            f"{info.path}: truncated or corrupt: header promises {info.num_samples} samples,"
            f" {raw.shape[0]} could be decoded"
        )
    # libsndfile hands every depth back left-aligned in int32; undo the shift exactly.
    shift = 32 - info.bit_depth
    if np.any(raw & ((1 << shift) - 1)):
        raise AudioError(f"{info.path}: decoded samples are not {info.bit_depth}-bit integers")
    return raw >> shift, info


def check_range(samples: np.ndarray, bit_depth: int) -> None:
    """Raise if any sample lies outside the signed range of ``bit_depth`` bits (1 to 32)."""
    if not 1 <= bit_depth <= MAX_BIT_DEPTH:
        raise ValueError(f"bit depth {bit_depth} is not 1 to {MAX_BIT_DEPTH}")
    if samples.dtype.kind != "i":
        raise TypeError(f"samples must be signed integers, got {samples.dtype}")
    low, high = -(1 << (bit_depth - 1)), (1 << (bit_depth - 1)) - 1
    if samples.size and (samples.min() < low or samples.max() > high):
        raise ValueError(f"samples exceed the {bit_depth}-bit range [{low}, {high}]")


def write_pcm(
    target: Path | str | io.BytesIO,
    samples: np.ndarray,
    sample_rate: int,
    bit_depth: int,
    container: str = "WAV",
) -> None:
    """Write exact integer samples to a WAV/FLAC/AIFF file (8-bit WAV is unsigned, as the format requires)."""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    if bit_depth not in SUPPORTED_BIT_DEPTHS:
        raise ValueError(f"libsndfile writes 8, 16 or 24-bit PCM, not {bit_depth}-bit")
    check_range(samples, bit_depth)
    subtype = _WRITE_SUBTYPE.get((container, bit_depth), f"PCM_{bit_depth}")
    if container == "WAV" and (bit_depth > 16 or samples.shape[1] > 2):
        container = "WAVEX"  # what the WAV spec asks for beyond 16 bits or 2 channels
    left_aligned = samples.astype(np.int32) << (32 - bit_depth)
    sf.write(
        target if isinstance(target, io.BytesIO) else str(target),
        left_aligned,
        sample_rate,
        subtype=subtype,
        format=container,
    )


def to_linear8(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """Keep the top 8 bits of each sample (an arithmetic shift, i.e. floor division)."""
    return to_linear(samples, bit_depth, 8)


def to_linear(samples: np.ndarray, bit_depth: int, target_depth: int) -> np.ndarray:
    """Keep the top ``target_depth`` bits of each sample."""
    if target_depth > bit_depth:
        raise ValueError(f"cannot raise {bit_depth}-bit audio to {target_depth} bits without inventing bits")
    check_range(samples, bit_depth)
    return (samples >> (bit_depth - target_depth)).astype(np.int32)


@cache
def _mulaw_thresholds(bit_depth: int) -> np.ndarray:
    """Smallest input sample mapped to each mu-law code 1..255 (codes are 0..255, 128 = zero)."""
    # Code k = round((F(x) + 1) * 127.5) with F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu) and
    # x = s / 2**(b-1). The boundary between codes k-1 and k lies at F(x) = (k - 0.5) / 127.5 - 1.
    # Decimal arithmetic at 40 digits makes the table identical on every platform; the samples
    # themselves are only ever compared with these integers.
    getcontext().prec = 40
    scale = Decimal(1 << (bit_depth - 1))
    ln1mu = Decimal(1 + MU).ln()
    thresholds = []
    for k in range(1, 256):
        f = (Decimal(2 * k - 1) / Decimal(255)) - 1
        magnitude = ((f.copy_abs() * ln1mu).exp() - 1) / Decimal(MU) * scale
        if f >= 0:
            # smallest integer s with s >= magnitude
            s = int(magnitude.to_integral_value(rounding="ROUND_CEILING"))
        else:
            # F(s) >= f  <=>  -|s| >= -magnitude  <=>  s >= -magnitude; smallest integer
            s = int((-magnitude).to_integral_value(rounding="ROUND_CEILING"))
        thresholds.append(s)
    return np.asarray(thresholds, dtype=np.int64)


def to_mulaw8(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """Mu-law (mu = 255) companding to 8 bits, as signed codes in [-128, 127] (code 0 is silence)."""
    check_range(samples, bit_depth)
    codes = np.searchsorted(_mulaw_thresholds(bit_depth), samples, side="right")
    return (codes - 128).astype(np.int32)


@cache
def _mulaw_centres(bit_depth: int) -> np.ndarray:
    getcontext().prec = 40
    scale = Decimal(1 << (bit_depth - 1))
    ln1mu = Decimal(1 + MU).ln()
    top = (1 << (bit_depth - 1)) - 1
    values = []
    for code in range(256):
        f = Decimal(code) / Decimal("127.5") - 1
        magnitude = ((f.copy_abs() * ln1mu).exp() - 1) / Decimal(MU) * scale
        value = int(magnitude.to_integral_value(rounding="ROUND_HALF_EVEN"))
        values.append(min(value, top) if f >= 0 else -value)
    return np.asarray(values, dtype=np.int32)


def from_mulaw8(codes: np.ndarray, bit_depth: int = 16) -> np.ndarray:
    """Expand signed mu-law codes back to ``bit_depth``-bit samples (lossy: for listening only)."""
    check_range(codes, 8)
    return _mulaw_centres(bit_depth)[codes + 128]


CONVERSIONS = ("mulaw", "linear")


def convert(samples: np.ndarray, bit_depth: int, target_depth: int, conversion: str) -> np.ndarray:
    """Bring ``bit_depth``-bit samples to ``target_depth`` bits by the named integer conversion."""
    if target_depth == bit_depth:
        return samples
    if conversion == "mulaw":
        if target_depth != 8:
            raise ValueError("mu-law conversion produces 8-bit audio only")
        return to_mulaw8(samples, bit_depth)
    if conversion == "linear":
        return to_linear(samples, bit_depth, target_depth)
    raise ValueError(f"unknown conversion {conversion!r}; choose one of {CONVERSIONS}")
