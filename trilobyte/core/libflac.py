"""Decode FLAC streams with libFLAC itself (the copy pyflac bundles), to exact integer PCM.

libFLAC is driven through ctypes with our own callbacks, so nothing depends on pyflac's Python
decoder (which handles 16 and 32-bit output only). What is accepted is what ``flac -d`` accepts:
any block size, fixed or variable, every depth from 4 to 32 bits, 1 to 8 channels, wasted bits,
an unknown total length (STREAMINFO total 0), an ID3v2 tag before ``fLaC``, and a stream that starts
at a frame header with no metadata at all. Anything libFLAC reports through its error callback (lost
sync, bad header, CRC mismatch, unparsable stream, bad metadata) ends decoding and is raised, as is a
change of rate, channels or depth between frames, a length other than STREAMINFO's, and an MD5
signature that does not match the decoded samples.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Decoding refuses to hold more values than this (samples x channels, int32): a few corrupt bytes
# can describe long runs of constant samples, and memory must stay bounded by something we choose.
MAX_DECODED_VALUES = 1 << 31

_READ_CONTINUE, _READ_END, _READ_ABORT = 0, 1, 2
_WRITE_CONTINUE, _WRITE_ABORT = 0, 1
_TELL_OK = 0
_STATE_END_OF_STREAM = 4
_STREAMINFO = 0


class FlacDecodeError(ValueError):
    """libFLAC could not decode the stream exactly; the message says why (without the file's name)."""


class _FrameHeader(ctypes.Structure):
    _fields_ = [
        ("blocksize", ctypes.c_uint32),
        ("sample_rate", ctypes.c_uint32),
        ("channels", ctypes.c_uint32),
        ("channel_assignment", ctypes.c_int),
        ("bits_per_sample", ctypes.c_uint32),
        ("number_type", ctypes.c_int),
        ("number", ctypes.c_uint64),
        ("crc", ctypes.c_uint8),
    ]


class _StreamInfo(ctypes.Structure):
    _fields_ = [
        ("min_blocksize", ctypes.c_uint32),
        ("max_blocksize", ctypes.c_uint32),
        ("min_framesize", ctypes.c_uint32),
        ("max_framesize", ctypes.c_uint32),
        ("sample_rate", ctypes.c_uint32),
        ("channels", ctypes.c_uint32),
        ("bits_per_sample", ctypes.c_uint32),
        ("total_samples", ctypes.c_uint64),
        ("md5sum", ctypes.c_uint8 * 16),
    ]


class _Metadata(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("is_last", ctypes.c_int),
        ("length", ctypes.c_uint32),
        ("stream_info", _StreamInfo),  # first member of the data union (8-byte aligned, as in C)
    ]


_P = ctypes.c_void_p
_READ = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.POINTER(ctypes.c_ubyte), ctypes.POINTER(ctypes.c_size_t), _P)
_TELL = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.POINTER(ctypes.c_uint64), _P)
_WRITE = ctypes.CFUNCTYPE(
    ctypes.c_int, _P, ctypes.POINTER(_FrameHeader), ctypes.POINTER(ctypes.POINTER(ctypes.c_int32)), _P
)
_METADATA = ctypes.CFUNCTYPE(None, _P, ctypes.POINTER(_Metadata), _P)
_ERROR = ctypes.CFUNCTYPE(None, _P, ctypes.c_int, _P)


def libflac_path() -> str:
    """The libFLAC shared library that pyflac's extensions are linked against."""
    import pyflac._decoder  # maps pyflac's libFLAC into this process

    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            if "libFLAC" in line:
                return line.split(maxsplit=5)[-1]
    import pyflac

    candidates = sorted((Path(pyflac.__file__).parent / "libraries").glob("*/*FLAC*"))
    if not candidates:
        raise FlacDecodeError("cannot find the libFLAC library that pyflac bundles")
    return str(candidates[0])


@functools.cache
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(libflac_path())
    lib.FLAC__stream_decoder_new.restype = _P
    lib.FLAC__stream_decoder_delete.argtypes = [_P]
    lib.FLAC__stream_decoder_set_md5_checking.argtypes = [_P, ctypes.c_int]
    lib.FLAC__stream_decoder_init_stream.argtypes = [_P, _READ, _P, _TELL, _P, _P, _WRITE, _METADATA, _ERROR, _P]
    lib.FLAC__stream_decoder_process_until_end_of_stream.argtypes = [_P]
    lib.FLAC__stream_decoder_get_state.argtypes = [_P]
    lib.FLAC__stream_decoder_get_decode_position.argtypes = [_P, ctypes.POINTER(ctypes.c_uint64)]
    lib.FLAC__stream_decoder_finish.argtypes = [_P]
    return lib


def _string_table(name: str, index: int) -> str:
    table = (ctypes.c_char_p * (index + 1)).in_dll(_lib(), name)
    value = table[index]
    return value.decode() if value else f"status {index}"


def libflac_version() -> str:
    """Version of the libFLAC this process decodes with."""
    return ctypes.c_char_p.in_dll(_lib(), "FLAC__VERSION_STRING").value.decode()


@dataclass(frozen=True)
class FlacStream:
    """A decoded FLAC stream: exact samples ``(num_samples, channels)`` int32 and what its header said."""

    samples: np.ndarray
    sample_rate: int
    bit_depth: int
    has_streaminfo: bool
    declared_samples: int  # STREAMINFO total samples; 0 = unknown (or no STREAMINFO)
    md5_checked: bool


class _Session:
    """State of one decode: input position, the growing sample buffer, the first problem seen."""

    def __init__(self, data: bytes, max_values: int) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.max_values = max_values
        self.buffer = np.empty((0, 0), dtype=np.int32)
        self.count = 0
        self.format: tuple[int, int, int] | None = None  # rate, channels, depth
        self.streaminfo: _StreamInfo | None = None
        self.problem: str | None = None
        self.exception: BaseException | None = None  # raised by our own callback code: a bug, re-raised
        self.frame_end = 0  # byte offset just past the last frame decoded

    def fail(self, message: str) -> None:
        if self.problem is None:
            self.problem = message

    def read(self, buffer, size_pointer) -> int:
        if self.problem is not None:
            return _READ_ABORT
        want = size_pointer[0]
        chunk = self.data[self.pos : self.pos + want]
        if not len(chunk):
            size_pointer[0] = 0
            return _READ_END
        ctypes.memmove(buffer, bytes(chunk), len(chunk))
        size_pointer[0] = len(chunk)
        self.pos += len(chunk)
        return _READ_CONTINUE

    def metadata(self, block) -> None:
        if block.type == _STREAMINFO and self.streaminfo is None:
            info = _StreamInfo.from_buffer_copy(block.stream_info)
            self.streaminfo = info
            self.format = (info.sample_rate, info.channels, info.bits_per_sample)

    def write(self, decoder, header, channel_data) -> int:
        if self.problem is not None:
            return _WRITE_ABORT
        position = ctypes.c_uint64()
        if _lib().FLAC__stream_decoder_get_decode_position(decoder, ctypes.byref(position)):
            self.frame_end = position.value
        frame_format = (header.sample_rate, header.channels, header.bits_per_sample)
        if self.format is None:
            self.format = frame_format
        elif frame_format != self.format:
            names = ("sample rate", "channels", "bit depth")
            changes = ", ".join(
                f"{n} {a} -> {b}" for n, a, b in zip(names, self.format, frame_format, strict=True) if a != b
            )
            if self.count == 0 and self.streaminfo is not None:
                self.fail(f"refused: the first frame disagrees with STREAMINFO ({changes})")
            else:
                self.fail(f"refused: the stream changes format mid-stream at sample {self.count} ({changes})")
            return _WRITE_ABORT
        n, channels = header.blocksize, header.channels
        if (self.count + n) * channels > self.max_values:
            self.fail(f"refused: decodes to more than {self.max_values} sample values")
            return _WRITE_ABORT
        if self.count + n > self.buffer.shape[0]:
            grown = np.empty((max(2 * self.buffer.shape[0], self.count + n, 4096), channels), dtype=np.int32)
            if self.count:
                grown[: self.count] = self.buffer[: self.count]
            self.buffer = grown
        for c in range(channels):
            self.buffer[self.count : self.count + n, c] = np.ctypeslib.as_array(channel_data[c], shape=(n,))
        self.count += n
        return _WRITE_CONTINUE


def decode_flac(data: bytes, max_values: int = MAX_DECODED_VALUES) -> FlacStream:
    """Decode a whole FLAC stream held in memory; raise :class:`FlacDecodeError` on any problem."""
    lib = _lib()
    session = _Session(data, max_values)

    def guarded(method, failure):
        def callback(*args):
            try:
                return method(*args)
            except BaseException as err:  # a callback must never unwind through libFLAC
                session.exception = session.exception or err
                session.fail(f"{type(err).__name__}: {err}")
                return failure

        return callback

    def tell(_decoder, offset, _client) -> int:
        offset[0] = session.pos
        return _TELL_OK

    def error(_decoder, status, _client) -> None:
        name = _string_table("FLAC__StreamDecoderErrorStatusString", status)
        session.fail(f"truncated or corrupt: libFLAC reports {name} after {session.count} samples")

    callbacks = (
        _READ(guarded(lambda _d, buf, size, _c: session.read(buf, size), _READ_ABORT)),
        _TELL(guarded(tell, 1)),
        _WRITE(guarded(lambda d, frame, chans, _c: session.write(d, frame[0], chans), _WRITE_ABORT)),
        _METADATA(guarded(lambda _d, block, _c: session.metadata(block[0]), None)),
        _ERROR(guarded(error, None)),
    )
    read_cb, tell_cb, write_cb, metadata_cb, error_cb = callbacks
    decoder = lib.FLAC__stream_decoder_new()
    if not decoder:
        raise MemoryError("libFLAC could not allocate a decoder")
    try:
        lib.FLAC__stream_decoder_set_md5_checking(decoder, 1)
        status = lib.FLAC__stream_decoder_init_stream(
            decoder, read_cb, None, tell_cb, None, None, write_cb, metadata_cb, error_cb, None
        )
        if status != 0:
            raise FlacDecodeError(
                f"libFLAC cannot start decoding: {_string_table('FLAC__StreamDecoderInitStatusString', status)}"
            )
        ok = lib.FLAC__stream_decoder_process_until_end_of_stream(decoder)
        state = lib.FLAC__stream_decoder_get_state(decoder)
        md5_ok = lib.FLAC__stream_decoder_finish(decoder)
    finally:
        lib.FLAC__stream_decoder_delete(decoder)
    if session.exception is not None:
        raise session.exception
    if session.problem is not None:
        raise FlacDecodeError(session.problem)
    if not ok or state != _STATE_END_OF_STREAM:
        name = _string_table("FLAC__StreamDecoderStateString", state)
        raise FlacDecodeError(f"truncated or corrupt: libFLAC stopped in state {name}")
    return _result(session, bool(md5_ok))


def _result(session: _Session, md5_ok: bool) -> FlacStream:
    info = session.streaminfo
    if session.format is None or session.count == 0:
        raise FlacDecodeError("holds no audio frames")
    rate, _, depth = session.format
    if session.frame_end != len(session.data):
        raise FlacDecodeError(
            f"truncated or corrupt: {len(session.data) - session.frame_end} byte(s) after the last complete frame"
            " do not decode (a cut-off frame or trailing bytes)"
        )
    declared = int(info.total_samples) if info is not None else 0
    if declared and declared != session.count:
        raise FlacDecodeError(
            f"truncated or corrupt: STREAMINFO promises {declared} samples, {session.count} decoded"
        )
    md5_set = info is not None and any(info.md5sum)
    if md5_set and not md5_ok:
        raise FlacDecodeError("corrupt: the decoded samples do not match the STREAMINFO MD5 signature")
    samples = session.buffer[: session.count]
    if session.buffer.shape[0] != session.count:
        samples = samples.copy()  # release the buffer's spare capacity
    return FlacStream(samples, int(rate), int(depth), info is not None, declared, md5_set)


@dataclass(frozen=True)
class StreamHeader:
    """The STREAMINFO facts of a FLAC stream, read without decoding it."""

    sample_rate: int
    channels: int
    bit_depth: int
    total_samples: int  # 0 = unknown
    md5: bytes


def id3v2_length(data: bytes) -> int:
    """Bytes taken by an ID3v2 tag at the start of ``data`` (0 when there is none)."""
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size  # as libFLAC skips it (a footer, flag 0x10, is not skipped)


def read_stream_header(data: bytes) -> StreamHeader | None:
    """STREAMINFO of a stream that starts with ``fLaC`` (after an optional ID3v2 tag); None otherwise."""
    offset = id3v2_length(data)
    if data[offset : offset + 4] != b"fLaC":
        return None
    block = data[offset + 4 : offset + 8 + 34]
    if len(block) < 38:
        raise FlacDecodeError("truncated: the stream ends inside its STREAMINFO block")
    if block[0] & 0x7F != _STREAMINFO or int.from_bytes(block[1:4], "big") != 34:
        raise FlacDecodeError("corrupt: the first metadata block is not a STREAMINFO block")
    bits = int.from_bytes(block[14:22], "big")  # rate 20 | channels-1 3 | depth-1 5 | total 36
    header = StreamHeader(
        sample_rate=bits >> 44,
        channels=((bits >> 41) & 0x7) + 1,
        bit_depth=((bits >> 36) & 0x1F) + 1,
        total_samples=bits & ((1 << 36) - 1),
        md5=bytes(block[22:38]),
    )
    if header.sample_rate == 0 or header.bit_depth < 4:
        raise FlacDecodeError(
            f"corrupt STREAMINFO: sample rate {header.sample_rate} Hz, {header.bit_depth} bits per sample"
        )
    return header
