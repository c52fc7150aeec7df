"""Tokenization: exact round trips at every depth and layout, the vocabulary, masking and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from trilobyte.core.datasets import get_dataset
from trilobyte.gpt2.tokenize import (
    ClipTokens,
    TokenizeError,
    TokenizerSettings,
    decode,
    draw_depth,
    encode,
    is_value,
    mask_low_bytes,
    parse_depth_dropout,
    slot_of,
)

RNG = np.random.default_rng(7)


def random_samples(n: int, channels: int, depth: int) -> np.ndarray:
    low, high = -(1 << (depth - 1)), 1 << (depth - 1)
    samples = RNG.integers(low, high, size=(n, channels), dtype=np.int64).astype(np.int32)
    samples[0, 0], samples[-1, -1] = low, high - 1  # both extremes
    return samples


def test_bytes_msb_first_with_unsigned_offset() -> None:
    s = TokenizerSettings("bytes", 24)
    # -2**23 -> 0x000000, -1 -> 0x7FFFFF, 0 -> 0x800000, 0x123456 -> 0x923456
    seq = encode(np.array([[-(1 << 23)], [-1], [0], [0x123456]], dtype=np.int32), 24, s)
    assert seq.tolist() == [s.bos, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0x80, 0, 0, 0x92, 0x34, 0x56]
    assert (s.value_count, s.bos, s.null, s.pad, s.vocab_size) == (256, 256, 257, 258, 259)


def test_one_byte_vocabulary_whatever_the_depth() -> None:
    sizes = {TokenizerSettings("bytes", d).vocab_size for d in (8, 16, 24)}
    assert sizes == {259}
    assert TokenizerSettings("bytes", 16).tokens_per_sample == 2


@pytest.mark.parametrize(
    "scheme,depth", [("bytes", 8), ("bytes", 16), ("bytes", 24), ("sample", 8), ("sample", 16)]
)
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("layout", ["concat", "interleave"])
def test_round_trip(scheme: str, depth: int, channels: int, layout: str) -> None:
    s = TokenizerSettings(scheme, depth, layout)
    samples = random_samples(501, channels, depth)
    for order in [None, (1, 0)] if channels == 2 else [None]:
        seq = encode(samples, depth, s, order)
        assert seq.shape == (1 + samples.size * s.tokens_per_sample,)
        assert int(is_value(seq, s).sum()) == samples.size * s.tokens_per_sample
        np.testing.assert_array_equal(decode(seq, channels, depth, s, order), samples)


@pytest.mark.parametrize("clip_depth", [8, 16])
def test_shallow_clip_in_deep_model_round_trips_with_null_low_bytes(clip_depth: int) -> None:
    s = TokenizerSettings("bytes", 24)
    samples = random_samples(300, 2, clip_depth)
    seq = encode(samples, clip_depth, s)
    body = seq[1:].reshape(-1, 3)
    real = clip_depth // 8
    assert np.all(body[:, real:] == s.null) and np.all(body[:, :real] < 256)
    np.testing.assert_array_equal(decode(seq, 2, clip_depth, s), samples)
    # the top bytes equal those of the same audio at 24 bits (the linear conversion back up)
    deep = encode(samples.astype(np.int64) << (24 - clip_depth), 24, s)
    np.testing.assert_array_equal(body[:, :real], deep[1:].reshape(-1, 3)[:, :real])


def test_stereo_layouts() -> None:
    samples = np.array([[1, -1], [2, -2]], dtype=np.int32)  # 8-bit: offset 128
    concat, inter = TokenizerSettings("bytes", 8, "concat"), TokenizerSettings("bytes", 8, "interleave")
    assert encode(samples, 8, concat)[1:].tolist() == [129, 130, 127, 126]
    assert encode(samples, 8, concat, order=(1, 0))[1:].tolist() == [127, 126, 129, 130]
    assert encode(samples, 8, inter)[1:].tolist() == [129, 127, 130, 126]
    with pytest.raises(TokenizeError, match="permutation"):
        encode(samples, 8, concat, order=(0, 0))


def test_gather_matches_sequence_and_pads() -> None:
    for layout in ("concat", "interleave"):
        s = TokenizerSettings("bytes", 16, layout)
        clip = ClipTokens.from_samples(random_samples(97, 2, 16), 16, s)
        seq = clip.sequence((1, 0))
        for start in (0, 1, 50, 190, 385):
            window = clip.gather(start, 40, (1, 0))
            expect = seq[start : start + 40]
            np.testing.assert_array_equal(window[: len(expect)], expect)
            assert np.all(window[len(expect) :] == s.pad)


def test_sample_level_refuses_24_bit_with_the_reason() -> None:
    with pytest.raises(TokenizeError, match="16,777,216-token vocabulary"):
        TokenizerSettings("sample", 24)
    s = TokenizerSettings("sample", 16)
    assert (s.vocab_size, s.tokens_per_sample) == (65539, 1)
    with pytest.raises(TokenizeError, match="cannot take 8-bit"):
        encode(random_samples(4, 1, 8), 8, s)


def test_bad_input_is_refused() -> None:
    s = TokenizerSettings("bytes", 16)
    with pytest.raises(TokenizeError, match="cannot take 24-bit"):
        encode(random_samples(4, 1, 24), 24, s)
    with pytest.raises(ValueError, match="exceed the 16-bit range"):
        encode(np.array([[40000]], dtype=np.int32), 16, s)
    seq = encode(random_samples(4, 1, 16), 16, s)
    seq[3] = s.null
    with pytest.raises(TokenizeError, match="special token"):
        decode(seq, 1, 16, s)
    with pytest.raises(TokenizeError, match="start with BOS"):
        decode(seq[1:], 1, 16, s)
    with pytest.raises(TokenizeError):
        TokenizerSettings("bytes", 12)
    with pytest.raises(TokenizeError, match="more than 1"):
        TokenizerSettings("bytes", 24, depth_dropout=((8, 0.6), (16, 0.6)))


def test_masking_low_bytes_equals_the_linear_conversion() -> None:
    s = TokenizerSettings("bytes", 24, depth_dropout=parse_depth_dropout("8=0.25,16=0.25"))
    samples = random_samples(200, 2, 24)
    clip = ClipTokens.from_samples(samples, 24, s)
    for start in (0, 1, 2, 3, 31):
        window = clip.gather(start, 90)
        for depth in (8, 16):
            masked = mask_low_bytes(window, start, depth, s)
            expect = encode(samples >> (24 - depth), depth, s)[start : start + 90]
            np.testing.assert_array_equal(masked, expect)
        assert mask_low_bytes(window, start, 24, s) is window
    index = np.arange(1, 10)
    assert slot_of(index, s).tolist() == [0, 1, 2] * 3


def test_depth_dropout_draws() -> None:
    s = TokenizerSettings("bytes", 24, depth_dropout=((8, 0.25), (16, 0.25)))
    rng = np.random.default_rng(0)
    draws = np.array([draw_depth(rng, 24, s) for _ in range(4000)])
    assert {8, 16, 24} == set(draws.tolist())
    assert abs(np.mean(draws == 24) - 0.5) < 0.05
    assert {draw_depth(rng, 8, s) for _ in range(50)} == {8}  # nothing below 8 bits to show
    assert TokenizerSettings.from_dict(s.to_dict()) == s


def test_real_audio_round_trip() -> None:
    ds = get_dataset("demo-24bit")
    for clip in ds.clips():
        s = TokenizerSettings("bytes", 24)
        seq = encode(clip.samples, clip.bit_depth, s)
        np.testing.assert_array_equal(decode(seq, clip.channels, clip.bit_depth, s), clip.samples)
