"""Bits of each real token under a model, and the windows that carry context across a long clip.

A model sees ``context`` tokens at once. A clip's sequence ``[BOS] + body`` is read in windows that
start every ``stride`` tokens (a multiple of the tokens per sample, so every window starts at a sample
boundary, as in training); each window scores only the targets the previous one did not, so every
target is scored exactly once and all but the first window's targets have at least
``context - stride`` tokens of context. The first target (the first byte of the clip) is scored too,
conditioned on BOS. Only value tokens are scored: NULL and PAD never count.

Probabilities are taken over the value tokens only (the special tokens' logits are dropped before the
softmax): where a value is due, the decoder knows it is a value, so no mass is spent on the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings, is_value

LN2 = math.log(2.0)


def value_nll(model: Any, tokens: Any, settings: TokenizerSettings) -> tuple[Any, Any]:
    """Next-token NLL in nats among the value tokens, and where it counts.

    ``tokens`` is a ``(B, T + 1)`` integer tensor; inputs are ``tokens[:, :-1]`` and targets
    ``tokens[:, 1:]``. Returns ``nll`` ``(B, T)`` float32 (0 where not scored) and ``scored`` ``(B, T)``.
    PAD (only ever after a clip's end) is masked out of attention; causal attention already keeps it
    from every real position.
    """
    import torch
    import torch.nn.functional as F

    value_count = settings.value_count
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    padded = inputs == settings.pad
    mask = (~padded).long() if bool(padded.any()) else None
    logits = model(input_ids=inputs, attention_mask=mask, use_cache=False).logits[..., :value_count].float()
    scored = targets < value_count
    safe = torch.where(scored, targets, torch.zeros_like(targets))
    nll = F.cross_entropy(logits.reshape(-1, value_count), safe.reshape(-1), reduction="none")
    return nll.view_as(safe) * scored, scored


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows over a sequence of ``length`` tokens start and which targets each scores."""

    length: int
    context: int
    stride: int

    def __post_init__(self) -> None:
        if not 0 < self.stride <= self.context:
            raise ValueError(f"stride must lie in 1..context ({self.context}), not {self.stride}")

    @property
    def count(self) -> int:
        targets = self.length - 1
        return 1 + max(0, math.ceil((targets - self.context) / self.stride))

    def start(self, m: int) -> int:
        return m * self.stride

    def new_targets(self, m: int) -> tuple[int, int]:
        """Half-open range of window-local target indices that window ``m`` scores.

        Local target i of a window starting at ``a`` is sequence token ``a + 1 + i``.
        """
        a = self.start(m)
        low = 0 if m == 0 else self.context - self.stride
        return low, min(self.context, self.length - 1 - a)


@dataclass
class ClipScore:
    """Sum of -log2 p and count of scored tokens per byte slot (0 = MSB)."""

    bits: np.ndarray
    counts: np.ndarray

    @property
    def total_bits(self) -> float:
        return float(self.bits.sum())

    @property
    def total_tokens(self) -> int:
        return int(self.counts.sum())


def default_stride(context: int, settings: TokenizerSettings) -> int:
    """Half the context, rounded down to whole samples."""
    per = settings.tokens_per_sample
    return max(per, (context // 2) // per * per)


def check_stride(stride: int, context: int, settings: TokenizerSettings) -> None:
    per = settings.tokens_per_sample
    if stride % per or not 0 < stride <= context:
        raise ValueError(
            f"stride must be a positive multiple of {per} tokens (one sample) and at most the context"
            f" ({context}), not {stride}"
        )


def _batches(count: int, size: int) -> Iterator[range]:
    for first in range(0, count, size):
        yield range(first, min(count, first + size))


def score_clip(
    model: Any,
    clip: ClipTokens,
    context: int,
    stride: int,
    *,
    batch_size: int = 8,
    device: str = "cpu",
    order: Sequence[int] | None = None,
    autocast_dtype: Any = None,
) -> ClipScore:
    """Bits of every real token of a clip (fixed channel ``order``), per byte slot."""
    import torch

    settings = clip.settings
    check_stride(stride, context, settings)
    if context > model.config.n_positions:
        raise ValueError(f"context {context} exceeds the model's {model.config.n_positions} positions")
    per = settings.tokens_per_sample
    plan = WindowPlan(clip.length, context, stride)
    bits = np.zeros(per, dtype=np.float64)
    counts = np.zeros(per, dtype=np.int64)
    for batch in _batches(plan.count, batch_size):
        starts = [plan.start(m) for m in batch]
        windows = np.stack([clip.gather(a, context + 1, order) for a in starts]).astype(np.int64)
        tokens = torch.from_numpy(windows).to(device)
        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=torch.device(device).type,
                dtype=autocast_dtype,
                enabled=autocast_dtype is not None,
            ),
        ):
            nll, _ = value_nll(model, tokens, settings)
        nll_bits = nll.double().cpu().numpy() / LN2
        for row, (m, a) in enumerate(zip(batch, starts, strict=True)):
            low, high = plan.new_targets(m)
            local = np.arange(low, high)
            targets = windows[row, local + 1]
            real = is_value(targets, settings)
            slot = (a + local[real]) % per
            bits += np.bincount(slot, weights=nll_bits[row, local[real]], minlength=per)
            counts += np.bincount(slot, minlength=per)
    expected = np.zeros(per, dtype=np.int64)
    expected[: settings.real_slots(clip.clip_depth)] = clip.num_samples * clip.channels
    if not np.array_equal(counts, expected):
        raise RuntimeError(f"scored {counts.tolist()} tokens per slot, expected {expected.tolist()}")
    return ClipScore(bits, counts)
