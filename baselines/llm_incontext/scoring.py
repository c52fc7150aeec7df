"""Scoring token sequences with a causal LM, and range coding them with its predictions.

Alignment: every chunk is preceded by a BOS token, and token ``k`` is coded with
``p(token k | BOS, tokens < k)``: the model reads ``[BOS, t0, ..., t(n-2)]`` and its output at position
``j`` is the distribution of ``t(j)``. (The authors' fast path scored token k with the distribution of
token k+2.)

Ideal mode: one padded forward pass per batch. Each token has two costs: ``-log2 p`` under the plain
softmax, and ``-log2 q`` under the distribution the coder uses, ``q = quantize_pmf(p) / 2**24``. The
second is the ideal that a result counts: a 24-bit range coder gives every token at least ``2**-24``,
which caps a token the model finds all but impossible at 24 bits. For a model as surprised by raw bytes
as SmolLM2 (dozens of tokens per 1024 beyond 24 bits) that floor saves up to ~2% against the plain
softmax sum, which each row keeps beside it; with it, coded and ideal agree to the coder's flush.

Coded mode: constriction's range coder (``constriction.stream.queue.RangeEncoder``), one stream per
chunk, with one categorical model per token built from the model's probabilities by one deterministic
function, :func:`quantize_pmf` (24-bit integer weights, every token at least 1). A decoder can only
compute a distribution after decoding the tokens before it, and floating point need not give the same
numbers for a one-token step with a cache as for a whole sequence at once. So encoder and decoder
both use :class:`StepwisePredictor`: the same batch of chunks advanced one token per step with a KV
cache, the same shapes at every step, hence bit-identical probabilities (on the same device, dtype,
thread count and library versions: the usual condition of model-based coding). The encoder's caller
decodes every chunk again that way and compares it bit-exactly.

Speed: the KV cache (:mod:`baselines.llm_incontext.kvcache`) appends in place, so a step costs one
token's pass through the weights plus attention over the tokens fed so far (keys and values in bfloat16
for a float32 model: half the bytes to read, the coded rate within about 0.01% of float32's). On a CPU
that step is bound by reading the weights (540 MB in float32 for SmolLM2-135M), which costs nearly the
same for one row as for four: more chunks per batch make the coded mode cheaper per chunk (the coded
mode's default batch is 128), while the ideal mode's forward pass is bound by arithmetic. A float32 cache
is sized to the chunks' length from the start; a bfloat16 one grows a page of positions at a time. The
work around a step (a float32 softmax, :func:`quantize_floors`, the categorical model, the coder) is a
few percent of it (``benchmarks/llm_incontext_speed.py``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from baselines.llm_incontext import kvcache

PRECISION = 24  # bits of the range coder's probabilities (constriction's default range coder)
LN2 = math.log(2.0)


def _torch() -> Any:
    import torch

    return torch


def model_device(model: Any) -> Any:
    return next(model.parameters()).device


def context_length(model: Any) -> int | None:
    """How many positions the model takes (None when its config does not say)."""
    return getattr(model.config, "max_position_embeddings", None)


@dataclass
class SequenceBits:
    """Per-token costs of one sequence: under the plain softmax, and under the coder's distribution."""

    softmax: np.ndarray  # -log2 p
    coded: np.ndarray  # -log2 (w / 2**PRECISION), w = quantize_pmf(p): what a range coder spends, less its flush


def _block_bits(logits: Any, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both costs of ``targets`` under a block of logits ``(n, V)``."""
    torch = _torch()
    probs = torch.softmax(logits.double(), dim=-1).cpu().numpy()
    rows = np.arange(len(targets))
    weights = quantize_pmf(probs)
    softmax = -np.log2(probs[rows, targets])
    coded = PRECISION - np.log2(weights[rows, targets].astype(np.float64))
    return softmax, coded


def score_sequences(
    model: Any, sequences: Sequence[Sequence[int]], bos_id: int, batch_size: int = 4, block: int = 256
) -> list[SequenceBits]:
    """The cost of every token ``t_k`` given ``BOS, t_<k``, for every sequence: one padded forward pass per
    ``batch_size`` sequences (padding never reaches a real position), probabilities in ``block``s of
    positions."""
    torch = _torch()
    device = model_device(model)
    results: list[SequenceBits] = []
    for start in range(0, len(sequences), batch_size):
        batch = [list(s) for s in sequences[start : start + batch_size]]
        if any(not s for s in batch):
            raise ValueError("cannot score an empty token sequence")
        length = max(len(s) for s in batch)
        inputs = torch.full((len(batch), length), bos_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for row, seq in enumerate(batch):
            inputs[row, 1 : len(seq)] = torch.tensor(seq[:-1], dtype=torch.long)
            mask[row, : len(seq)] = 1
        with torch.inference_mode():
            logits = model(input_ids=inputs.to(device), attention_mask=mask.to(device), use_cache=False).logits
            for row, seq in enumerate(batch):
                targets = np.asarray(seq, dtype=np.int64)
                parts = [
                    _block_bits(logits[row, a : a + block], targets[a : a + block]) for a in range(0, len(seq), block)
                ]
                results.append(
                    SequenceBits(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
                )
            del logits
    return results


def token_bits(model: Any, sequences: Sequence[Sequence[int]], bos_id: int, batch_size: int = 4) -> list[np.ndarray]:
    """``-log2 p(t_k | BOS, t_<k)`` under the plain softmax, for every token of every sequence."""
    return [bits.softmax for bits in score_sequences(model, sequences, bos_id, batch_size)]


@njit(cache=True)
def _quantize_floors(probs: np.ndarray, free: int, total: int, out: np.ndarray) -> bool:
    """Fill ``out`` with each row's ``floor(p / sum(p) * free)``, the rest of ``total`` (less one per token)
    added to the row's most probable token; False where a row's floors exceed the total."""
    rows, size = probs.shape
    for row in range(rows):
        norm = 0.0
        for i in range(size):
            norm += probs[row, i]
        given = 0
        best = 0
        for i in range(size):
            floor = math.floor(probs[row, i] / norm * free)
            out[row, i] = floor
            given += int(floor) + 1
            if probs[row, i] > probs[row, best]:
                best = i
        if given > total:
            return False
        out[row, best] += total - given
    return True


def quantize_floors(probs: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Probabilities ``(rows, V)`` (float32 or float64) -> each token's integer weight less one, as float64
    (exact: below ``2**precision``); the weights sum to ``2**precision`` and each is at least 1.

    A weight is ``floor(p / sum(p) * (2**precision - V)) + 1``, and what is left over goes to the most
    probable token. Deterministic: the same floats always give the same integers. One compiled pass per
    row: at 64 rows of 49k tokens, NumPy's temporaries cost a tenth of a model step.
    """
    probs = np.ascontiguousarray(probs)
    if probs.dtype not in (np.float32, np.float64):
        probs = probs.astype(np.float64)
    rows, size = probs.shape
    total = 1 << precision
    free = total - size
    if free <= 0:
        raise ValueError(f"a vocabulary of {size} tokens needs more than {precision}-bit probabilities")
    floors = np.empty((rows, size), dtype=np.float64)
    if not _quantize_floors(probs, free, total, floors):
        raise ArithmeticError("quantized probabilities exceed the total")
    return floors


def quantize_pmf(probs: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """:func:`quantize_floors` as the integer weights themselves (int64, summing to ``2**precision``)."""
    return quantize_floors(probs, precision).astype(np.int64) + 1


def categorical(floors: np.ndarray) -> Any:
    """constriction's categorical model holding exactly the weights ``floors + 1`` (one row of
    :func:`quantize_floors`, summing to 2**24 less one per token).

    constriction's fast quantizer maps ``w - 1`` (which sums to 2**24 - V) to ``w`` exactly:
    its scale is 1 and its +1 per symbol puts the floor back.
    """
    import constriction

    return constriction.stream.model.Categorical(floors, perfect=False, lazy=True)


@dataclass
class StepDistribution:
    """One step's next-token distributions, a row per chunk: probabilities (what the coder quantizes) and
    natural-log probabilities (finite where a probability underflows to 0), both float32."""

    probs: np.ndarray
    log_probs: np.ndarray

    def bits(self, row: int, token: int) -> float:
        """``-log2 p`` of ``token`` in ``row``."""
        return -float(self.log_probs[row, token]) / LN2


class StepwisePredictor:
    """Next-token distributions for a batch of chunks, advanced one token per step with a KV cache.

    The cache (:func:`~baselines.llm_incontext.kvcache.step_cache`) holds exactly the tokens fed so far,
    appended in place, so a step costs the model's weights plus attention over those tokens. ``half``:
    keys and values in bfloat16 with the cache's own attention (None: where
    :func:`~baselines.llm_incontext.kvcache.half_cache_applies`).
    """

    def __init__(
        self, model: Any, rows: int, bos_id: int, capacity: int | None = None, half: bool | None = None
    ) -> None:
        self.model = model
        self.rows = rows
        self.bos_id = bos_id
        self.half = kvcache.half_cache_applies(model) if half is None else half
        self.cache: Any = kvcache.step_cache(model, capacity, self.half)
        self.device = model_device(model)
        # transformers 5 calls the KV cache argument ``cache``; 4.x calls it ``past_key_values``
        self.cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def step(self, tokens: Sequence[int]) -> StepDistribution:
        """Feed one token per row; return each row's next-token distribution."""
        torch = _torch()
        if len(tokens) != self.rows:
            raise ValueError(f"expected {self.rows} tokens, one per row, not {len(tokens)}")
        inputs = torch.tensor(list(tokens), dtype=torch.long, device=self.device)[:, None]
        with torch.inference_mode(), kvcache.step_attention(self.model, self.half):
            out = self.model(input_ids=inputs, use_cache=True, **{self.cache_arg: self.cache})
            self.cache = out["cache"] if "cache" in out else out["past_key_values"]
            # float32 here, float64 in the ideal mode: a float64 softmax over ~49k logits cost 7x the float32
            # one, 5% of a step; the coder only needs encoder and decoder to agree, which one path gives
            log_probs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
            probs = log_probs.exp().cpu().numpy()
        return StepDistribution(probs, log_probs.cpu().numpy())


def encode_chunks(
    model: Any, id_lists: Sequence[Sequence[int]], bos_id: int
) -> tuple[list[np.ndarray], list[SequenceBits]]:
    """Range-code each token list (one stream per list); also each token's costs as the coder saw them."""
    import constriction

    steps = max(len(ids) for ids in id_lists)
    predictor = StepwisePredictor(model, len(id_lists), bos_id, capacity=steps)
    encoders = [constriction.stream.queue.RangeEncoder() for _ in id_lists]
    bits = [SequenceBits(np.zeros(len(ids)), np.zeros(len(ids))) for ids in id_lists]
    tokens = [bos_id] * len(id_lists)
    for k in range(steps):
        step = predictor.step(tokens)
        floors = quantize_floors(step.probs)
        for row, ids in enumerate(id_lists):
            if k < len(ids):
                token = int(ids[k])
                encoders[row].encode(token, categorical(floors[row]))
                bits[row].softmax[k] = step.bits(row, token)
                bits[row].coded[k] = PRECISION - math.log2(floors[row, token] + 1)
        tokens = [int(ids[k]) if k < len(ids) else bos_id for ids in id_lists]
    return [enc.get_compressed() for enc in encoders], bits


def decode_chunks(model: Any, streams: Sequence[np.ndarray], lengths: Sequence[int], bos_id: int) -> list[list[int]]:
    """Decode streams made by :func:`encode_chunks` for the same batch (same order, same lengths)."""
    import constriction

    steps = max(lengths)
    predictor = StepwisePredictor(model, len(streams), bos_id, capacity=steps)
    decoders = [constriction.stream.queue.RangeDecoder(np.asarray(s, dtype=np.uint32)) for s in streams]
    decoded: list[list[int]] = [[] for _ in streams]
    tokens = [bos_id] * len(streams)
    for k in range(steps):
        floors = quantize_floors(predictor.step(tokens).probs)
        for row, length in enumerate(lengths):
            if k < length:
                decoded[row].append(int(decoders[row].decode(categorical(floors[row]))))
        tokens = [decoded[row][k] if k < lengths[row] else bos_id for row in range(len(streams))]
    return decoded
