"""Speed of the in-context LLM baseline: seconds per chunk in the ideal and the coded mode, side by side.

``python benchmarks/llm_incontext_speed.py`` loads the default model (SmolLM2-135M; ``--model`` for
another) on one torch thread (``--threads``), draws ``--chunks`` chunks of ``--tokens`` random byte
tokens (the bytes mapping of 8-bit audio: one token per sample), and times

- the ideal mode: :func:`score_sequences`, one padded forward pass per ``--batch`` chunks, every
  token's quantized probability read off;
- the coded mode: :func:`encode_chunks` then :func:`decode_chunks` (one model step per token with the
  KV cache, ``--coded-batch`` chunks per step), the decoded tokens compared with the originals and the
  coded size with the ideal one (within 0.5%);
- the per-token work outside the model (the step's softmax, :func:`quantize_floors`, building
  constriction's categorical model and coding one symbol), beside the model's step per token.

It prints wall and CPU seconds per chunk for both modes and their ratio (CPU seconds are the fairer
figure on a machine shared with other work), then the hours the paper's protocol (1000 chunks of
1024 samples per dataset, bytes mapping) would take at these rates for each registered dataset.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from baselines.llm_incontext import models as llm_models
from baselines.llm_incontext.mappings import BytesMapping
from baselines.llm_incontext.scoring import (
    PRECISION,
    StepwisePredictor,
    categorical,
    decode_chunks,
    encode_chunks,
    quantize_floors,
    score_sequences,
)
from trilobyte.core.datasets import REGISTRY

CODER_WORD_BITS = 32


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``'s result, wall seconds and CPU seconds of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def outside_model_costs(model: Any, bos: int, rows: int, tokens: Sequence[int], repeats: int = 20) -> dict[str, float]:
    """Seconds per token of the coder's work around one model step, and of the step itself (per row)."""
    import constriction
    import torch

    predictor = StepwisePredictor(model, rows, bos)
    predictor.step([bos] * rows)
    start = time.process_time()
    for token in tokens[:repeats]:
        predictor.step([token] * rows)
    step = (time.process_time() - start) / repeats / rows
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([[bos, *tokens[: repeats - 1]]])).logits[0]
    start = time.process_time()
    probs = torch.log_softmax(logits.float(), dim=-1).exp().cpu().numpy()  # as StepwisePredictor.step
    softmax = (time.process_time() - start) / repeats
    quantize_floors(probs[:1])  # compiled before it is timed
    start = time.process_time()
    floors = quantize_floors(probs)
    quantize = (time.process_time() - start) / repeats
    encoder = constriction.stream.queue.RangeEncoder()
    start = time.process_time()
    for row, token in enumerate(tokens[:repeats]):
        encoder.encode(int(token), categorical(floors[row]))
    code = (time.process_time() - start) / repeats
    return {"step": step, "softmax": softmax, "quantize": quantize, "code": code}


def code_and_decode(model: Any, chunks: list[list[int]], bos: int, batch: int) -> tuple[int, float, float]:
    """Range-code ``chunks`` in batches, decode and compare each: coded bits, wall and CPU seconds."""
    bits, wall, cpu = 0, 0.0, 0.0
    for first in range(0, len(chunks), batch):
        rows = chunks[first : first + batch]
        (streams, _), ewall, ecpu = timed(lambda rows=rows: encode_chunks(model, rows, bos))
        decoded, dwall, dcpu = timed(
            lambda rows=rows, streams=streams: decode_chunks(model, streams, [len(c) for c in rows], bos)
        )
        if decoded != rows:
            raise SystemExit("the coded mode did not decode its own streams: not lossless")
        bits += sum(CODER_WORD_BITS * int(np.asarray(s).size) for s in streams)
        wall += ewall + dwall
        cpu += ecpu + dcpu
    return bits, wall, cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=llm_models.DEFAULT_MODEL)
    parser.add_argument("--chunks", type=int, default=4, help="chunks timed in each mode (default: 4)")
    parser.add_argument("--tokens", type=int, default=1024, help="tokens per chunk (default: 1024)")
    parser.add_argument("--batch", type=int, default=4, help="chunks per ideal forward pass (default: 4)")
    coded_help = "chunks per coded step, or a comma list timed one after the other (default: --batch)"
    parser.add_argument("--coded-batch", default=None, help=coded_help)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=llm_models.DTYPES, default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--protocol-chunks", type=int, default=1000, help="chunks per dataset in the protocol")
    parser.add_argument("--protocol-samples", type=int, default=1024, help="samples per chunk in the protocol")
    args = parser.parse_args(argv)
    coded_batches = [int(b) for b in args.coded_batch.split(",")] if args.coded_batch else [args.batch]

    import torch

    torch.set_num_threads(args.threads)
    source = llm_models.resolve_model(args.model)
    model, tokenizer = llm_models.load_model(source, args.device, args.dtype)
    bos = llm_models.bos_token_id(tokenizer)
    table = np.asarray(BytesMapping(tokenizer).table.ids)
    rng = np.random.default_rng(0)
    chunks = [table[rng.integers(0, 256, args.tokens)].tolist() for _ in range(args.chunks)]
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.model} ({params / 1e6:.0f}M parameters, {args.dtype}) on {args.device},"
        f" {torch.get_num_threads()} torch thread(s); {args.chunks} chunks x {args.tokens} byte tokens"
    )

    score_sequences(model, chunks[:1], bos, 1)  # warm-up
    ideal, ideal_wall, ideal_cpu = timed(lambda: score_sequences(model, chunks, bos, args.batch))
    ideal_bits = sum(float(bits.coded.sum()) for bits in ideal)
    n = len(chunks)
    print(f"\n{'mode':<42}{'wall s/chunk':>14}{'CPU s/chunk':>13}{'x ideal (CPU)':>15}{'size vs ideal':>15}")
    print(f"{f'ideal (forward pass, batch {args.batch})':<42}{ideal_wall / n:>14.2f}{ideal_cpu / n:>13.2f}")
    coded_cpu = ideal_cpu
    for coded_batch in coded_batches:
        coded_bits, coded_wall, coded_cpu = code_and_decode(model, chunks, bos, coded_batch)
        label = f"coded (encode + decode, batch {coded_batch})"
        print(
            f"{label:<42}{coded_wall / n:>14.2f}{coded_cpu / n:>13.2f}{coded_cpu / ideal_cpu:>14.1f}x"
            f"{coded_bits / ideal_bits - 1:>+15.3%}"
        )
    print(f"every coded chunk was decoded and compared with its tokens ({n} chunks per batch size)")

    costs = outside_model_costs(model, bos, coded_batches[0], chunks[0])
    outside = costs["softmax"] + costs["quantize"] + costs["code"]
    print(
        f"per token outside the model: softmax {costs['softmax'] * 1e6:,.0f} us, quantize_floors"
        f" {costs['quantize'] * 1e6:,.0f} us, categorical + code {costs['code'] * 1e6:,.0f} us"
        f" ({outside * 1e3:.2f} ms, {outside / costs['step']:.1%} of the model's {costs['step'] * 1e3:.1f} ms"
        f" step per token, {2**PRECISION:,} total weight over {model.config.vocab_size:,} tokens)"
    )

    ideal_rate = n * args.tokens / ideal_cpu
    coded_rate = n * args.tokens / coded_cpu  # encode + decode, the last batch size
    print(
        f"\nThe paper's protocol at these CPU rates: {args.protocol_chunks} chunks x {args.protocol_samples}"
        " samples per dataset, bytes mapping (hours on one thread; coded = encode + decode)"
    )
    print(f"{'dataset':<16}{'bits':>5}{'tokens':>12}{'ideal h':>10}{'coded h':>10}")
    for name, spec in REGISTRY.items():
        if spec.demo or spec.bit_depth is None:
            continue
        count = args.protocol_chunks * args.protocol_samples * (spec.bit_depth // 8)
        print(
            f"{name:<16}{spec.bit_depth:>5}{count:>12,}{count / ideal_rate / 3600:>10.2f}"
            f"{count / coded_rate / 3600:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
