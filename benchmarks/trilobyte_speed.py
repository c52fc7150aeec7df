"""Training and scoring speed of the Trilobyte presets in tokens per second (prints figures only).

    python benchmarks/trilobyte_speed.py --preset tiny --preset small --threads 1 --steps 10

Training steps are full optimizer steps (forward, backward, AdamW) on random windows of real demo
speech; scoring is the estimator's windowed pass (stride = half the context) over one clip.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def time_training(model: Any, sampler: Any, settings: Any, batch_size: int, steps: int, device: str) -> float:
    """Tokens per second of full AdamW steps (after one warm-up step)."""
    import torch

    from trilobyte.gpt2.scoring import value_nll
    from trilobyte.gpt2.train import make_optimizer

    optimizer = make_optimizer(model, 1e-3, 0.1, fused=False)
    rng = np.random.default_rng(0)
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()
        batch = torch.from_numpy(sampler.draw(rng, batch_size)).to(device)
        nll, scored = value_nll(model, batch, settings)
        (nll.sum() / scored.sum()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * batch_size * (sampler.window - 1) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    import torch

    from trilobyte.core.datasets import get_dataset
    from trilobyte.gpt2.model import PRESETS, build_model, count_parameters
    from trilobyte.gpt2.scoring import default_stride, score_clip
    from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings
    from trilobyte.gpt2.train import WindowSampler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", choices=list(PRESETS), help="default: tiny and small")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps (default: 10)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = TokenizerSettings("bytes", 16)
    clips = [ClipTokens.from_samples(c.samples, 16, settings) for c in get_dataset("demo-speech48").clips()]
    print(f"device {args.device}, {torch.get_num_threads()} torch threads")
    for name in args.preset or ["tiny", "small"]:
        preset = PRESETS[name]
        model = build_model(name, settings).to(args.device).train()
        sampler = WindowSampler(clips, preset.context + 1)
        train_rate = time_training(model, sampler, settings, preset.batch_size, args.steps, args.device)
        model.eval()
        clip = max(clips, key=lambda c: c.length)
        start = time.perf_counter()
        score_clip(model, clip, preset.context, default_stride(preset.context, settings), device=args.device)
        score_seconds = time.perf_counter() - start
        print(
            f"{name:>6}: {count_parameters(model):>11,} parameters, context {preset.context}:"
            f" train {train_rate:>9,.0f} tokens/s (batch {preset.batch_size});"
            f" score {clip.length / score_seconds:>9,.0f} tokens/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
