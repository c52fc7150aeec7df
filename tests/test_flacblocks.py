"""FLAC frames of fixed blocks: each decodes alone to its block, and their sizes are flac -8's frames."""

from __future__ import annotations

import numpy as np
import pytest

from trilobyte.core.flacblocks import FlacBlockError, decode_block, encode_blocks


def signal(n: int, channels: int, bit_depth: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = (1 << (bit_depth - 1)) - 1
    walk = np.cumsum(rng.integers(-(top >> 6), (top >> 6) + 1, size=(n, channels)), axis=0)
    return np.clip(walk, -top - 1, top).astype(np.int64)


@pytest.mark.parametrize(("bit_depth", "channels", "rate"), [(8, 1, 8000), (16, 2, 44100), (24, 2, 96000),
                                                             (16, 1, 12345)])
def test_every_block_decodes_alone(bit_depth: int, channels: int, rate: int) -> None:
    x = signal(3 * 4096 + 1000, channels, bit_depth)
    x[4096:8192] = 7  # a constant block
    frames = encode_blocks(x, rate, bit_depth)
    assert len(frames) == 4
    for i, frame in enumerate(frames):
        block = x[i * 4096 : (i + 1) * 4096]
        assert np.array_equal(decode_block(frame, rate, channels, bit_depth, len(block)), block)
    assert len(frames[1]) < 40  # a constant subframe per channel


def test_blocks_are_the_frames_of_one_flac_stream() -> None:
    from baselines.flac.codec import FlacSettings, encode, parse_layout

    x = signal(5 * 4096, 2, 16, seed=3)
    stream = encode(x, 44100, 16, FlacSettings(level=8))
    frames = encode_blocks(x, 44100, 16)
    layout = parse_layout(stream)
    assert stream[layout.frames_offset :] == b"".join(frames)


def test_a_damaged_or_foreign_frame_is_refused() -> None:
    x = signal(4096, 1, 16)
    frame = bytearray(encode_blocks(x, 16000, 16)[0])
    frame[len(frame) // 2] ^= 0x10
    with pytest.raises(FlacBlockError, match="does not decode"):
        decode_block(bytes(frame), 16000, 1, 16, 4096)
    with pytest.raises(FlacBlockError, match="decodes to"):
        decode_block(encode_blocks(x, 16000, 16)[0], 16000, 1, 16, 4000)
