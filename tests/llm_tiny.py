"""Tiny tokenizers and randomly initialised causal LMs, built locally, for the in-context LLM tests.

- :func:`llama_tokenizer`: a Llama-style BPE with byte fallback (``<0x00>..<0xFF>``), the ``▁`` space
  convention, and merges learned from a little English and a little audio-as-text.
- :func:`bytelevel_tokenizer`: a GPT-2-style byte-level BPE that lacks a few byte symbols (as
  SmolLM2's vocabulary does) and has a few multi-byte single-character tokens to stand in for them.
- :func:`save_tiny_llama`: a 2-layer, 32-wide ``LlamaForCausalLM`` over a tokenizer, saved as a model
  folder (safetensors + tokenizer files).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SPECIALS = ["<unk>", "<s>", "</s>"]
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
MISSING_BYTES = (0x04, 0x10, 0xF5)  # byte symbols left out of the byte-level vocabulary


def _corpus() -> list[str]:
    rng = np.random.default_rng(0)
    words = ["the", "a", "sound", "of", "audio", "wave", "sample", "speech", "music", "bird", "model", "byte"]
    lines = [" ".join(rng.choice(words, size=12)) for _ in range(200)]
    t = np.arange(4000)
    wave = (128 + 60 * np.sin(t * 0.05) + rng.normal(0, 4, t.size)).clip(66, 253).astype(np.uint8)
    lines += [(wave[i : i + 200] >> 1).tobytes().decode("ascii") for i in range(0, 4000, 200)]
    return lines


def llama_tokenizer(vocab_size: int = 420):
    """A Llama-style tokenizer with byte fallback (unknown characters become <0xNN> tokens)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    learner = Tokenizer(models.BPE())
    learner.normalizer = normalizer
    alphabet = ["▁", *(chr(c) for c in range(0x21, 0x7F))]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIALS) - len(BYTE_TOKENS),
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        show_progress=False,
    )
    learner.train_from_iterator(_corpus(), trainer)
    learned = json.loads(learner.to_str())["model"]
    vocab = {t: i for i, t in enumerate(SPECIALS + BYTE_TOKENS)}
    for token, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizer
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def bytelevel_tokenizer():
    """A byte-level BPE lacking the byte symbols of MISSING_BYTES, with spare single-character tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from baselines.llm_incontext.mappings import bytes_to_unicode

    symbols = bytes_to_unicode()
    vocab = {"<|endoftext|>": 0}
    for b in range(256):
        if b not in MISSING_BYTES:
            vocab[symbols[b]] = len(vocab)
    # "é", "ü", "ñ" and "Ġthe": merged tokens; the first three decode to one character each.
    merges = [("Ã", "©"), ("Ã", "¼"), ("Ã", "±"), ("Ġ", "t"), ("h", "e"), ("Ġt", "he")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def save_tiny_llama(folder: Path, tokenizer, seed: int = 0, context: int = 2048) -> Path:
    """A randomly initialised 2-layer Llama over ``tokenizer``, saved in ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        initializer_range=0.2,  # peaked, position-dependent predictions: misalignment shows
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def hf_cache_snapshot(hf_home: Path, repo_id: str, model_folder: Path) -> Path:
    """Lay ``model_folder``'s files out as the Hugging Face cache does for ``repo_id`` under ``hf_home``."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for path in model_folder.iterdir():
        (snapshot / path.name).write_bytes(path.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot
