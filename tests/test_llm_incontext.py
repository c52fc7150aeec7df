"""The in-context LLM baseline end to end, on tiny randomly initialised models built here (no network)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("constriction")

import torch

from baselines.llm_incontext import kvcache
from baselines.llm_incontext import models as llm_models
from baselines.llm_incontext.cli import main, parse_mappings
from baselines.llm_incontext.method import (
    CODED_BATCH_SIZE,
    IDEAL_BATCH_SIZE,
    METHOD,
    InContextLLM,
    LLMSettings,
    draw_chunks,
)
from baselines.llm_incontext.scoring import (
    PRECISION,
    StepwisePredictor,
    decode_chunks,
    encode_chunks,
    quantize_pmf,
    score_sequences,
    token_bits,
)
from tests.conftest import synth
from tests.llm_tiny import bytelevel_tokenizer, hf_cache_snapshot, llama_tokenizer, save_tiny_llama
from trilobyte.core import audio
from trilobyte.core.datasets import DatasetError, get_dataset
from trilobyte.core.results import ResultStore


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: tiny models run fastest so, and coding needs no more."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def isolated_model_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv(llm_models.MODELS_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(llm_models.CACHE_ENV, str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama", llama_tokenizer())


@pytest.fixture(scope="module")
def tiny_bytelevel(tmp_path_factory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-bytelevel", bytelevel_tokenizer())


@pytest.fixture(scope="module")
def loaded(tiny_llama):
    model, tokenizer = llm_models.load_model(llm_models.resolve_model(str(tiny_llama)))
    return model, tokenizer, llm_models.bos_token_id(tokenizer)


def run_ideal_and_coded(dataset, **settings):
    ideal = InContextLLM(LLMSettings(**settings)).estimate_rate(dataset)
    coded = InContextLLM(LLMSettings(coded=True, **settings)).estimate_rate(dataset)
    return ideal, coded


# -- scoring alignment


def prefix_loop_bits(model, seq: list[int], bos: int, shift: int = 0) -> np.ndarray:
    """-log2 p(seq[k]) read from the model's output at position k + shift of [BOS] + seq.

    shift 0 is the right alignment, computed the slow way: one forward pass per prefix.
    """
    bits = []
    for k in range(len(seq) - shift):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([[bos, *seq[: k + shift]]])).logits[0, -1]
        bits.append(-torch.log_softmax(logits.double(), -1)[seq[k]].item() / math.log(2))
    return np.array(bits)


def test_scoring_is_aligned_with_bos(loaded):
    model, _, bos = loaded
    rng = np.random.default_rng(0)
    seqs = [rng.integers(3, model.config.vocab_size, n).tolist() for n in (9, 14, 4)]
    scored = token_bits(model, seqs, bos, batch_size=2)  # padded batches: the second batch holds one
    for seq, bits in zip(seqs, scored, strict=True):
        truth = prefix_loop_bits(model, seq, bos)
        assert bits.shape == (len(seq),)
        np.testing.assert_allclose(bits, truth, atol=1e-4)
        # a scorer off by one or two tokens reads other positions, and would fail the check above
        for shift in (1, 2):
            wrong = prefix_loop_bits(model, seq, bos, shift)
            assert np.max(np.abs(wrong - truth[: len(wrong)])) > 0.05


def test_stepwise_coding_matches_the_forward_pass_and_decodes(loaded):
    model, _, bos = loaded
    rng = np.random.default_rng(1)
    seqs = [rng.integers(3, model.config.vocab_size, n).tolist() for n in (40, 25, 33)]
    streams, stepped = encode_chunks(model, seqs, bos)
    forward = score_sequences(model, seqs, bos)
    for a, b in zip(stepped, forward, strict=True):
        # keys and values in bfloat16 move a token's cost by hundredths of a bit, a sequence's by far less
        np.testing.assert_allclose(a.softmax, b.softmax, atol=0.1)
        np.testing.assert_allclose(a.coded, b.coded, atol=0.1)
        assert a.coded.sum() == pytest.approx(b.coded.sum(), rel=1e-3)
    # the decoder recomputes the probabilities with the same batch shape: bit-identical, so exact
    assert decode_chunks(model, streams, [len(s) for s in seqs], bos) == seqs


def test_float32_steps_match_the_forward_pass(loaded):
    model, _, bos = loaded
    rng = np.random.default_rng(1)
    seqs = [rng.integers(3, model.config.vocab_size, n).tolist() for n in (40, 25, 33)]
    stepper = StepwisePredictor(model, 3, bos, capacity=40, half=False)
    forward = score_sequences(model, seqs, bos)
    tokens = [bos] * 3
    for k in range(40):
        step = stepper.step(tokens)
        for row, seq in enumerate(seqs):
            if k < len(seq):
                assert step.bits(row, seq[k]) == pytest.approx(forward[row].softmax[k], abs=1e-4)
        tokens = [seq[k] if k < len(seq) else bos for seq in seqs]


def test_step_cache_holds_exactly_the_tokens_fed_and_appends_in_place(loaded):
    model, _, bos = loaded
    rng = np.random.default_rng(3)
    rows = rng.integers(3, model.config.vocab_size, (3, 150))
    stepper, plain = StepwisePredictor(model, 3, bos, half=False), StepwisePredictor(model, 3, bos, half=False)
    plain.cache = None  # transformers' own DynamicCache: the reference
    storages = set()
    for k in range(150):
        tokens = [bos] * 3 if k == 0 else rows[:, k - 1].tolist()
        probs = stepper.step(tokens).probs
        np.testing.assert_allclose(probs, plain.step(tokens).probs, rtol=1e-6, atol=1e-12)
        layers = stepper.cache.layers
        assert len(layers) == model.config.num_hidden_layers
        for layer in layers:
            # attention sees exactly the k + 1 positions fed so far, and the buffer is no bigger than twice that
            assert layer.keys.shape[-2] == layer.values.shape[-2] == k + 1 == layer.get_seq_length()
            assert layer.capacity() <= max(kvcache.INITIAL_CAPACITY, 2 * (k + 1))
        assert stepper.cache.get_seq_length() == k + 1
        storages.add(layers[0].keys.untyped_storage().data_ptr())
    torch.testing.assert_close(stepper.cache.layers[1].keys, plain.cache.layers[1].keys, rtol=1e-6, atol=1e-6)
    # a step writes into the buffer: 150 steps reallocate it only as it doubles (64, 128, 256)
    assert len(storages) == 3


def test_step_cache_with_a_capacity_is_allocated_once(loaded):
    model, _, bos = loaded
    rng = np.random.default_rng(4)
    rows = rng.integers(3, model.config.vocab_size, (2, 90))
    stepper = StepwisePredictor(model, 2, bos, capacity=90, half=False)
    storages = set()
    for k in range(90):
        step = stepper.step([bos] * 2 if k == 0 else rows[:, k - 1].tolist())
        layer = stepper.cache.layers[0]
        assert layer.keys.shape[-2] == k + 1 and layer.capacity() == 90
        storages.add(layer.keys.untyped_storage().data_ptr())
    assert len(storages) == 1  # no reallocation: the coder told it how many positions it feeds
    # the coder's distribution: probabilities and log-probabilities of the same softmax, rows summing to 1
    np.testing.assert_allclose(step.probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.log(step.probs), step.log_probs, atol=1e-5)
    assert step.bits(1, 7) == pytest.approx(-np.log2(step.probs[1, 7]), rel=1e-5)


def test_half_step_cache_grows_by_pages_and_holds_exactly_the_tokens_fed(loaded):
    model, _, bos = loaded
    assert kvcache.half_cache_applies(model)  # float32, sdpa: the coder's default
    rng = np.random.default_rng(3)
    rows = rng.integers(3, model.config.vocab_size, (3, 150))
    half, full = StepwisePredictor(model, 3, bos, capacity=150), StepwisePredictor(model, 3, bos, half=False)
    storages = set()
    for k in range(150):
        tokens = [bos] * 3 if k == 0 else rows[:, k - 1].tolist()
        moved = np.abs(half.step(tokens).log_probs - full.step(tokens).log_probs)
        assert moved.mean() < 0.02 and moved.max() < 0.25  # bfloat16 keys and values: rounding, no more
        for layer in half.cache.layers:
            assert layer.keys.dtype == layer.values.dtype == torch.bfloat16
            assert layer.keys.shape[-2] == k + 1 == layer.get_seq_length()
            assert layer.capacity() == -(-(k + 1) // kvcache.PAGE) * kvcache.PAGE
        storages.add(half.cache.layers[0].keys.untyped_storage().data_ptr())
    assert len(storages) == -(-150 // kvcache.PAGE)  # a new buffer per page, none per step
    assert model.config._attn_implementation == "sdpa"  # the step's attention is the stepper's alone


def test_step_attention_reads_the_whole_buffer_and_masks_what_was_not_fed():
    rng = torch.Generator().manual_seed(5)
    rows, kv_heads, groups, width, filled, capacity = 2, 2, 3, 8, 37, 64
    buffers = [torch.zeros(rows, kv_heads, capacity, width, dtype=torch.bfloat16) for _ in range(2)]
    for buffer in buffers:
        buffer[:, :, :filled] = torch.randn(rows, kv_heads, filled, width, generator=rng).to(torch.bfloat16)
    keys, values = (buffer[:, :, :filled] for buffer in buffers)
    assert kvcache.whole_buffer(keys)[0].shape[-2] == capacity and kvcache.whole_buffer(keys)[1] == filled
    query = torch.randn(rows, kv_heads * groups, 1, width, generator=rng)
    out, _ = kvcache.step_attention_forward(None, query, keys, values, None, scaling=0.3)
    # the same attention in float64 over exactly the positions fed, each query head on its group's keys
    q = (query * 0.3).to(torch.bfloat16).double().view(rows, kv_heads, groups, width)
    weights = torch.softmax(q @ keys.double().transpose(-1, -2), dim=-1)
    expected = (weights @ values.double()).view(rows, kv_heads * groups, 1, width).transpose(1, 2)
    assert out.shape == (rows, 1, kv_heads * groups, width) and out.dtype == torch.float32
    torch.testing.assert_close(out.double(), expected, rtol=0.02, atol=0.02)


def test_cache_bytes_per_position_and_the_rows_that_fit(loaded):
    model, _, bos = loaded
    stepper = StepwisePredictor(model, 3, bos, capacity=5)
    for _ in range(5):
        stepper.step([bos] * 3)
    held = sum(layer.keys.nbytes + layer.values.nbytes for layer in stepper.cache.layers)
    assert held == 3 * 5 * kvcache.cache_bytes_per_position(model)
    memory = kvcache.device_memory(torch.device("cpu"))
    assert memory and memory > 1 << 30
    per_row = 1000 * kvcache.cache_bytes_per_position(model)
    assert kvcache.rows_that_fit(model, 1000, torch.device("cpu")) == memory // kvcache.MEMORY_SHARE // per_row


def test_a_coded_batch_that_would_not_fit_is_made_smaller(tiny_llama, speech8, monkeypatch, caplog):
    dataset = get_dataset(str(speech8), bit_depth=8)
    settings = {"model": str(tiny_llama), "mapping": "bytes", "chunks": 4, "chunk_samples": 256}
    whole = InContextLLM(LLMSettings(coded=True, **settings)).estimate_rate(dataset)
    assert LLMSettings(coded=True).batch_size == CODED_BATCH_SIZE and LLMSettings().batch_size == IDEAL_BATCH_SIZE
    model = InContextLLM(LLMSettings(**settings)).load().model
    two_rows = 2 * 256 * kvcache.cache_bytes_per_position(model) * kvcache.MEMORY_SHARE
    monkeypatch.setattr(kvcache, "device_memory", lambda device: two_rows)  # a machine with little memory
    with caplog.at_level(logging.WARNING):
        capped = InContextLLM(LLMSettings(coded=True, **settings)).estimate_rate(dataset)
    assert f"--coded steps 2 chunks together, not --batch-size {CODED_BATCH_SIZE}" in caplog.text
    assert len(capped.ok_files) == 4  # every chunk coded, decoded and compared, two at a time
    for a, b in zip(whole.files, capped.files, strict=True):  # the batch's shape moves only the last digits
        assert abs(a.compressed_bits - b.compressed_bits) <= 64


def test_step_cache_only_for_full_attention(loaded):
    model, _, _ = loaded
    assert kvcache.step_cache(model) is not None
    assert not kvcache.uses_full_attention_only(SimpleNamespace(sliding_window=4096))
    assert not kvcache.uses_full_attention_only(SimpleNamespace(layer_types=["full_attention", "sliding_attention"]))
    assert kvcache.uses_full_attention_only(SimpleNamespace(sliding_window=None, layer_types=["full_attention"]))


def test_coder_costs_follow_its_quantized_distribution(loaded):
    model, _, bos = loaded
    seq = np.random.default_rng(2).integers(3, model.config.vocab_size, 60).tolist()
    (bits,) = score_sequences(model, [seq], bos, block=16)  # several blocks of positions
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[bos, *seq[:-1]]])).logits[0]
    probs = torch.softmax(logits.double(), -1).numpy()
    weights = quantize_pmf(probs)
    expected = PRECISION - np.log2(weights[np.arange(60), seq])
    np.testing.assert_allclose(bits.coded, expected, atol=1e-6)
    assert bits.coded.max() <= PRECISION  # the coder's floor: no token costs more than 24 bits
    np.testing.assert_allclose(bits.softmax, -np.log2(probs[np.arange(60), seq]), atol=1e-4)


# -- coded vs ideal


@pytest.fixture(scope="module")
def speech8(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("speech8")
    for i in range(4):
        audio.write_pcm(folder / f"clip{i}.wav", synth(2600 + 300 * i, 1, 16, seed=i), 16000, 16)
    return folder


@pytest.mark.parametrize(("mapping", "bit_depth", "samples"), [("bytes", 8, 1024), ("ascii7", 16, 512)])
def test_coded_within_half_percent_of_ideal(tiny_llama, speech8, mapping, bit_depth, samples):
    dataset = get_dataset(str(speech8), bit_depth=bit_depth)
    ideal, coded = run_ideal_and_coded(dataset, model=str(tiny_llama), mapping=mapping, chunks=2, chunk_samples=samples)
    assert ideal.mode == "ideal" and coded.mode == "coded"
    assert len(coded.ok_files) == 2  # every coded chunk was decoded and compared bit-exactly
    for i, c in zip(ideal.files, coded.files, strict=True):
        assert i.id == c.id and i.raw_bits == c.raw_bits == samples * bit_depth
        assert abs(c.compressed_bits - i.compressed_bits) <= 0.005 * i.compressed_bits
        assert c.extra["coder_bits"] % 32 == 0
        assert c.compressed_bits == c.extra["coder_bits"] + c.extra["count_bits"] + c.extra["side_bits"]
        assert i.compressed_bits == math.ceil(i.extra["model_bits"]) + i.extra["count_bits"] + i.extra["side_bits"]
        assert abs(c.extra["softmax_bits"] - i.extra["softmax_bits"]) < 1e-3 * i.extra["softmax_bits"]
    if mapping == "ascii7":  # the low bits are stored raw and counted, and the token count too
        assert all(f.extra["side_bits"] == samples * 2 and f.extra["count_bits"] > 0 for f in coded.files)
    else:
        assert all(f.extra["side_bits"] == 0 == f.extra["count_bits"] for f in coded.files)


# -- models by alias


def test_llama_2_7b_alias_end_to_end(tiny_llama, speech8, tmp_path, capsys):
    hf_cache_snapshot(tmp_path / "hf", "meta-llama/Llama-2-7b-hf", tiny_llama)
    out = tmp_path / "results"
    argv = ["--model", "llama-2-7b", "--dataset", str(speech8), "--chunks", "3", "--chunk-samples", "64"]
    argv += ["--mapping", "ascii7,latin1,bytes", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    results = ResultStore(out).all_results()
    assert len(results) == 3
    for _path, result in results:
        assert result.method == METHOD and result.config["model"] == "llama-2-7b"
        assert result.config_name.startswith("llama-2-7b_")
        assert "meta-llama/Llama-2-7b-hf (HF cache)" in result.extra["model_origin"]
        assert len(result.ok_files) == 3 and all("@" in f.id for f in result.files)
        assert result.model_parameters and result.model_bytes
        assert result.extra["bos_token"]["token"] == "<s>"
        mapping = result.config["mapping"]
        assert result.report["column"] == ("In-context" if mapping == "ascii7" else f"In-context {mapping}")
    printed = capsys.readouterr().out
    assert "llama-2-7b" in printed and "ascii7" in printed
    # a second run finds the results and computes nothing
    assert main(argv) == 0


def test_alias_from_the_local_models_dir(tiny_llama, tmp_path):
    local = tmp_path / "models" / "llama-2-13b"
    local.mkdir(parents=True)
    for path in tiny_llama.iterdir():
        (local / path.name).write_bytes(path.read_bytes())
    (local / "pytorch_model.bin").write_bytes(b"a second copy of the weights, as hub repos often ship")
    source = llm_models.resolve_model("llama-2-13b")
    assert source.folder == local and source.label == "llama-2-13b"
    assert [p.name for p in source.weight_files] == ["model.safetensors"]  # counted once
    assert source.weight_bytes == (local / "model.safetensors").stat().st_size


def test_missing_model_says_where_to_put_it(tmp_path, speech8, caplog):
    with pytest.raises(llm_models.ModelNotFoundError) as err:
        llm_models.resolve_model("llama-2-7b")
    message = str(err.value)
    assert "meta-llama/Llama-2-7b-hf" in message
    assert str(tmp_path / "models" / "llama-2-7b") in message
    assert str(tmp_path / "hf" / "hub" / "models--meta-llama--Llama-2-7b-hf") in message
    argv = ["--model", "llama-2-7b", "--dataset", str(speech8), "--chunks", "2", "--out", str(tmp_path / "r")]
    assert main(argv) == 1
    assert "nothing is downloaded" in caplog.text
    with pytest.raises(llm_models.ModelNotFoundError, match="not a model folder"):
        llm_models.resolve_model(str(tmp_path))


# -- the chunk draw


def test_chunks_are_drawn_over_the_whole_split(audio_folder):
    dataset = get_dataset(str(audio_folder))
    chunks = draw_chunks(dataset, 20, 256, seed=0)
    assert len(chunks) == 20 and len({c.id for c in chunks}) == 20
    assert chunks == draw_chunks(dataset, 20, 256, seed=0)  # the same chunks for every model
    assert chunks != draw_chunks(dataset, 20, 256, seed=1)
    clips = {c.clip_id for c in chunks}
    assert len(clips) >= 5 and clips - {r.id for r in dataset.refs[:2]}  # not the first files only
    refs = {r.id: r for r in dataset.refs}
    for c in chunks:
        assert c.id == f"{c.clip_id}@{c.offset}" and c.offset % 256 == 0
        assert c.offset + c.frames <= refs[c.clip_id].num_samples
    assert sorted(c.rank for c in chunks) == list(range(20))
    first8 = {c.id for c in chunks if c.rank < 8}
    assert {c.id for c in draw_chunks(dataset, 8, 256, seed=0)} == first8  # a smaller draw is a prefix
    total = sum(r.num_samples // 256 for r in dataset.refs)
    assert len(draw_chunks(dataset, 10_000, 256, seed=0)) == total


def test_stereo_chunks_interleave_channels(tiny_llama, tmp_path):
    folder = tmp_path / "stereo"
    folder.mkdir()
    for i in range(3):
        audio.write_pcm(folder / f"s{i}.wav", synth(700, 2, 16, seed=i), 44100, 16)
    dataset = get_dataset(str(folder))
    chunks = draw_chunks(dataset, 4, 64, seed=0)
    assert all(c.frames == 32 for c in chunks)  # 64 interleaved samples: 32 frames of L R
    with pytest.raises(DatasetError, match="do not divide"):
        draw_chunks(dataset, 4, 63, seed=0)
    settings = LLMSettings(model=str(tiny_llama), mapping="bytes", chunks=4, chunk_samples=64)
    result = InContextLLM(settings).estimate_rate(dataset)
    assert all(f.ok and f.raw_bits == 64 * 16 and f.channels == 2 and f.extra["bytes"] == 128 for f in result.files)


# -- refusals


def test_refused_chunks_name_their_bytes(tiny_bytelevel, tmp_path, capsys):
    folder = tmp_path / "bytes8"
    folder.mkdir()
    rng = np.random.default_rng(0)
    every = rng.permutation(np.repeat(np.arange(256), 2))  # every byte value: 0x04 and 0x10 included
    safe = rng.integers(0x41, 0x7B, 512)  # letters only
    for name, values in (("every", every), ("safe1", safe), ("safe2", safe[::-1])):
        audio.write_pcm(folder / f"{name}.wav", (values.astype(np.int32) - 128)[:, None], 8000, 8)
    out = tmp_path / "results"
    argv = ["--model", str(tiny_bytelevel), "--dataset", str(folder), "--chunks", "3", "--chunk-samples", "512"]
    argv += ["--mapping", "latin1,bytes", "--out", str(out), "--no-progress"]
    assert main(argv) == 1  # every chunk is coded or a failed row; refused chunks are counted as failed
    results = {r.config["mapping"]: r for _, r in ResultStore(out).all_results()}
    latin1 = results["latin1"]
    assert [f.id for f in latin1.failures] == ["every.wav@0"]
    assert "latin1 mapping refused" in latin1.failures[0].error
    assert latin1.failures[0].error.endswith("cannot give back: 0x04, 0x10")
    assert len(latin1.ok_files) == 2 and latin1.rate is not None
    assert latin1.extra["tokens_to_bytes"]["bytes_not_round_tripping"] == ["0x04", "0x10"]
    # the byte table codes every byte, with stand-ins for the missing symbols, recorded
    table = results["bytes"]
    assert not table.failures
    assert sorted(table.extra["tokens_to_bytes"]["filled_bytes"]) == ["0x04", "0x10", "0xf5"]
    printed = capsys.readouterr().out
    assert "Refused chunks" in printed and "every.wav@0" in printed


def test_an_unreadable_file_is_a_failed_row_of_the_result(tiny_llama, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(3):
        audio.write_pcm(folder / f"clip{i}.wav", synth(1200, 1, 16, seed=i), 16000, 16)
    (folder / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk: no fmt, no data")
    out = tmp_path / "results"
    argv = ["--model", str(tiny_llama), "--dataset", str(folder), "--chunks", "4", "--chunk-samples", "256"]
    argv += ["--mapping", "bytes", "--out", str(out), "--no-progress"]
    assert main(argv) == 1  # the good files are coded; the unreadable one fails the run's status
    [(_, result)] = ResultStore(out).all_results()
    assert [f.id for f in result.failures] == ["broken.wav"]
    assert "broken.wav" in result.failures[0].error and "not a readable" in result.failures[0].error
    assert len(result.ok_files) == 4 and result.rate is not None
    # every chunk names its clip: the interval resamples clips
    assert all(f.extra["clip"] == f.id.split("@")[0] for f in result.ok_files)
    assert "broken.wav" in capsys.readouterr().out


def test_chunk_longer_than_the_context_is_refused(tmp_path, speech8):
    model = save_tiny_llama(tmp_path / "short", llama_tokenizer(), context=64)
    dataset = get_dataset(str(speech8))
    settings = LLMSettings(model=str(model), mapping="bytes", chunks=2, chunk_samples=64)
    result = InContextLLM(settings).estimate_rate(dataset)
    assert len(result.failures) == 2
    assert "exceed the model's context of 64" in result.failures[0].error


# -- resuming


def test_resumes_by_chunk_after_an_interrupt(tiny_llama, speech8, tmp_path, monkeypatch):
    dataset = get_dataset(str(speech8))
    settings = LLMSettings(model=str(tiny_llama), mapping="bytes", chunks=5, chunk_samples=128, batch_size=2)
    store = ResultStore(tmp_path / "results")
    original = InContextLLM._code_batch
    coded: list[int] = []

    def interrupted_on_second_batch(self, ds, batch):
        if len(coded) == 1:
            raise KeyboardInterrupt
        coded.append(len(batch))
        return original(self, ds, batch)

    monkeypatch.setattr(InContextLLM, "_code_batch", interrupted_on_second_batch)
    estimator = InContextLLM(settings)
    with pytest.raises(KeyboardInterrupt):
        estimator.run(dataset, store, progress=False)
    partial = store.partial_path(dataset.key, METHOD, estimator.config_name())
    kept = store.read_partial(partial, dataset.fingerprint)
    assert len(kept) == 2 and not store.json_path(dataset.key, METHOD, estimator.config_name()).exists()

    def counting(self, ds, batch):
        coded.append(len(batch))
        return original(self, ds, batch)

    monkeypatch.setattr(InContextLLM, "_code_batch", counting)
    coded.clear()
    result = InContextLLM(settings).run(dataset, store, progress=False)
    assert sum(coded) == 3  # only the missing chunks
    assert len(result.ok_files) == 5 and not partial.exists()
    fresh = InContextLLM(settings).estimate_rate(dataset)
    assert [(f.id, f.compressed_bits) for f in result.files] == [(f.id, f.compressed_bits) for f in fresh.files]
    saved = json.loads(store.json_path(dataset.key, METHOD, estimator.config_name()).read_text())
    assert saved["mode"] == "ideal" and saved["summary"]["files"] == 5


def test_bad_flags_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--mapping", "utf8"])
    assert "mappings are" in capsys.readouterr().err
    with pytest.raises(ValueError, match="mapping"):
        LLMSettings(mapping="nope")
    assert parse_mappings("bytes, ascii7,bytes") == ["bytes", "ascii7"]
