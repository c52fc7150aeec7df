"""Speed of the in-context LLM baseline: tokens per second, and the hours its full protocol would take.

``python benchmarks/llm_incontext_speed.py`` loads the default model (SmolLM2-135M; ``--model`` for
another), scores a batch of 4 x 1024 byte tokens (the ideal mode: one forward pass per batch) and
steps a batch of 4 through ``--steps`` tokens with the KV cache, quantizing and range coding each
(the coded mode's encoder; its decoder costs the same again). It prints tokens/s for both, and the
hours the paper's protocol (1000 chunks of 1024 samples per dataset, bytes mapping: one token per
byte) would take on this machine for each registered dataset, from its bit depth alone. The hours
scale the measured rate linearly with the token count; a 16-bit chunk is 2048 tokens, whose attention
costs a little more per token than 1024, so the 16 and 24-bit figures are slight underestimates.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from baselines.llm_incontext import models as llm_models
from baselines.llm_incontext.mappings import BytesMapping
from baselines.llm_incontext.scoring import StepwisePredictor, categorical, quantize_pmf, token_bits
from trilobyte.core.datasets import REGISTRY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=llm_models.DEFAULT_MODEL)
    parser.add_argument("--batch", type=int, default=4, help="sequences per forward pass (default: 4)")
    parser.add_argument("--tokens", type=int, default=1024, help="tokens per sequence (default: 1024)")
    parser.add_argument("--steps", type=int, default=64, help="coded-mode steps to time (default: 64)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=llm_models.DTYPES, default="float32")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--chunks", type=int, default=1000, help="chunks per dataset in the protocol")
    parser.add_argument("--chunk-samples", type=int, default=1024, help="samples per chunk in the protocol")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    source = llm_models.resolve_model(args.model)
    model, tokenizer = llm_models.load_model(source, args.device, args.dtype)
    bos = llm_models.bos_token_id(tokenizer)
    table = np.asarray(BytesMapping(tokenizer).table.ids)
    rng = np.random.default_rng(0)
    batch = [table[rng.integers(0, 256, args.tokens)].tolist() for _ in range(args.batch)]
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.model} ({params / 1e6:.0f}M parameters, {args.dtype}) on {args.device},"
        f" {torch.get_num_threads()} torch threads"
    )

    token_bits(model, batch, bos, args.batch)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        token_bits(model, batch, bos, args.batch)
        times.append(time.perf_counter() - start)
    ideal_rate = args.batch * args.tokens / min(times)
    print(f"ideal (one forward pass, batch {args.batch} x {args.tokens} tokens): {ideal_rate:,.0f} tokens/s")

    import constriction

    predictor = StepwisePredictor(model, args.batch, bos)
    encoders = [constriction.stream.queue.RangeEncoder() for _ in range(args.batch)]
    tokens = [bos] * args.batch
    predictor.step(tokens)  # warm-up
    start = time.perf_counter()
    for k in range(args.steps):
        weights = quantize_pmf(predictor.step(tokens))
        tokens = [seq[k] for seq in batch]
        for row, encoder in enumerate(encoders):
            encoder.encode(tokens[row], categorical(weights[row]))
    step_rate = args.batch * args.steps / (time.perf_counter() - start)
    print(
        f"coded encoder (KV-cache steps of batch {args.batch}, quantize, range code): {step_rate:,.0f} tokens/s;"
        f" a coded run also decodes, at the same speed"
    )

    print(
        f"\nThe paper's protocol on this machine: {args.chunks} chunks x {args.chunk_samples} samples per dataset,"
        " bytes mapping"
    )
    print(f"{'dataset':<16}{'bits':>5}{'tokens':>12}{'ideal h':>10}{'coded h':>10}")
    for name, spec in REGISTRY.items():
        if spec.demo or spec.bit_depth is None:
            continue
        count = args.chunks * args.chunk_samples * (spec.bit_depth // 8)
        print(
            f"{name:<16}{spec.bit_depth:>5}{count:>12,}{count / ideal_rate / 3600:>10.2f}"
            f"{2 * count / step_rate / 3600:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
