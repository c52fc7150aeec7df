"""Audio as FLAC frames of fixed-size blocks, each decodable on its own: libFLAC encodes, libFLAC decodes.

A codec that wants FLAC's own coding for some blocks (constant, verbatim, fixed and LPC subframes with
partitioned Rice residuals, and FLAC's stereo decorrelation) keeps just the frames it chooses.
:func:`encode_blocks` runs libFLAC (the copy pyflac bundles) once over the audio at a compression level
with a fixed block size and returns each frame's bytes; a FLAC frame is self-contained (its header, its
warm-up samples, its CRC-16), so :func:`decode_block` decodes one alone, behind a STREAMINFO block built
from the stream's format, with :func:`trilobyte.core.libflac.decode_flac`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from trilobyte.core.libflac import FlacDecodeError, decode_flac

DEFAULT_BLOCK = 4096  # flac -8's block size


class FlacBlockError(ValueError):
    """Audio libFLAC will not encode, or a frame that does not decode to the block it stands for."""


def encode_stream(samples: np.ndarray, sample_rate: int, bit_depth: int, write: Callable[[bytes, int, int, int], None],
                  level: int = 8, blocksize: int = 0, subset: bool = True, seek: Callable[[int], None] | None = None,
                  tell: Callable[[], int] | None = None, configure: Callable[[Any], None] | None = None) -> None:
    """Run libFLAC's stream encoder (the copy pyflac bundles) over ``(num_samples, channels)`` integers,
    handing every write to ``write(buffer, num_bytes, num_samples, frame)`` (metadata with num_samples 0);
    ``configure(encoder)`` sets anything more on libFLAC's encoder before it starts."""
    from pyflac._encoder import ffi, lib
    from pyflac.encoder import StreamEncoder

    samples = np.ascontiguousarray(samples, dtype=np.int32)
    if samples.ndim != 2 or samples.shape[0] == 0 or not 1 <= samples.shape[1] <= 8:
        raise FlacBlockError(f"samples must be a non-empty (num_samples, 1 to 8 channels) array, not {samples.shape}")
    encoder = StreamEncoder(sample_rate=sample_rate, write_callback=write, seek_callback=seek, tell_callback=tell,
                            compression_level=level, blocksize=blocksize, streamable_subset=subset)
    raw = encoder._encoder
    lib.FLAC__stream_encoder_set_channels(raw, samples.shape[1])
    lib.FLAC__stream_encoder_set_bits_per_sample(raw, bit_depth)
    lib.FLAC__stream_encoder_set_total_samples_estimate(raw, samples.shape[0])
    if configure is not None:
        configure(raw)
    encoder._init()  # raises pyflac's EncoderInitException with libFLAC's reason
    ok = lib.FLAC__stream_encoder_process_interleaved(raw, ffi.from_buffer("int32_t[]", samples), samples.shape[0])
    state = ffi.string(lib.FLAC__stream_encoder_get_resolved_state_string(raw)).decode()
    if not (lib.FLAC__stream_encoder_finish(raw) and ok):
        raise FlacBlockError(f"libFLAC failed to encode: {state}")


def encode_blocks(samples: np.ndarray, sample_rate: int, bit_depth: int, blocksize: int = DEFAULT_BLOCK,
                  level: int = 8) -> list[bytes]:
    """libFLAC's frames for ``(num_samples, channels)`` integers: one per ``blocksize`` samples (the last
    one shorter), the stream's metadata left out."""
    frames: list[bytes] = []

    def write(buffer: bytes, _num_bytes: int, num_samples: int, _frame: int) -> None:
        if num_samples:  # metadata comes with num_samples 0
            frames.append(buffer)

    encode_stream(samples, sample_rate, bit_depth, write, level, blocksize, subset=False)
    expected = -(-len(samples) // blocksize)
    if len(frames) != expected:
        raise FlacBlockError(f"libFLAC wrote {len(frames)} frames for {expected} blocks")
    return frames


def streaminfo(sample_rate: int, channels: int, bit_depth: int, blocksize: int) -> bytes:
    """``fLaC`` and a last-metadata STREAMINFO block for the format (length and MD5 unknown)."""
    packed = (sample_rate << 44) | ((channels - 1) << 41) | ((bit_depth - 1) << 36)  # total samples 0
    body = struct.pack(">HH", blocksize, blocksize) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)  # frame sizes 0
    return b"fLaC" + bytes([0x80, 0, 0, len(body)]) + body


def decode_block(frame: bytes, sample_rate: int, channels: int, bit_depth: int, length: int,
                 blocksize: int = DEFAULT_BLOCK) -> np.ndarray:
    """One frame of :func:`encode_blocks` back to ``(length, channels)`` int64, checked against its format."""
    try:
        stream = decode_flac(streaminfo(sample_rate, channels, bit_depth, blocksize) + frame)
    except FlacDecodeError as err:
        raise FlacBlockError(f"a FLAC block does not decode: {err}") from err
    if stream.samples.shape != (length, channels) or stream.bit_depth != bit_depth:
        raise FlacBlockError(f"a FLAC block decodes to {stream.samples.shape} at {stream.bit_depth} bits,"
                             f" not ({length}, {channels}) at {bit_depth}")
    return stream.samples.astype(np.int64)
