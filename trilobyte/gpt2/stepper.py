"""Token-by-token inference of a Trilobyte GPT-2 with a key/value cache, many sequences in lock-step.

:class:`KVStepper` runs a loaded ``GPT2LMHeadModel``'s own layers (embeddings, LayerNorms, the
attention and MLP projections) but keeps keys and values in buffers allocated once for the model's
context, so a step costs one token's work per sequence, not a re-run of the whole prefix. A batch of
``B`` sequences advances together: one call feeds one more token (or a prefill of several) to each.

The codec relies on this: the encoder and the decoder compute every probability by this very path,
with the same batch size, thread count and feeding pattern, so their float32 logits are identical
bit for bit (see the README's "exactness" section). :func:`probe_fingerprint` hashes the logits of a
fixed input on this path, so a machine that computes differently is noticed before decoding.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

ENGINE = "kv-step-v1"  # names this computation in the container


class StepperError(ValueError):
    """A model or an input the stepper cannot run."""


class KVStepper:
    """``batch`` sequences of a GPT-2 advanced in lock-step; logits of the value tokens at the last position."""

    def __init__(self, model: Any, batch: int, value_count: int, device: str = "cpu") -> None:
        import torch

        cfg = model.config
        if getattr(cfg, "add_cross_attention", False):
            raise StepperError("cross-attention GPT-2 models are not Trilobyte models")
        if batch < 1:
            raise StepperError(f"batch must be positive, not {batch}")
        self.model = model
        self.batch = batch
        self.value_count = value_count
        self.device = torch.device(device)
        self.context = int(cfg.n_positions)
        self.width = int(cfg.n_embd)
        self.heads = int(cfg.n_head)
        self.head_dim = self.width // self.heads
        body = model.transformer
        self.blocks = list(body.h)
        self.scales = []
        for index, _ in enumerate(self.blocks):
            scale = self.head_dim**-0.5 if getattr(cfg, "scale_attn_weights", True) else 1.0
            if getattr(cfg, "scale_attn_by_inverse_layer_idx", False):
                scale /= float(index + 1)
            self.scales.append(scale)
        shape = (len(self.blocks), batch, self.heads, self.context, self.head_dim)
        dtype = body.wte.weight.dtype
        self.keys = torch.zeros(shape, dtype=dtype, device=self.device)
        self.values = torch.zeros(shape, dtype=dtype, device=self.device)
        self.head = model.lm_head.weight[:value_count].t()
        self.length = 0
        # each block's parameters, called directly (the modules' own arithmetic, without their call overhead)
        self.params = [
            (
                (b.ln_1.weight, b.ln_1.bias, b.ln_1.eps),
                (b.attn.c_attn.bias, b.attn.c_attn.weight),
                (b.attn.c_proj.bias, b.attn.c_proj.weight),
                (b.ln_2.weight, b.ln_2.bias, b.ln_2.eps),
                (b.mlp.c_fc.bias, b.mlp.c_fc.weight),
                b.mlp.act,
                (b.mlp.c_proj.bias, b.mlp.c_proj.weight),
            )
            for b in self.blocks
        ]
        self.final = (body.ln_f.weight, body.ln_f.bias, body.ln_f.eps)
        self.positions = torch.arange(self.context, device=self.device)

    def reset(self) -> None:
        """Forget every sequence (the next feed starts at position 0)."""
        self.length = 0

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        """Append ``tokens`` ``(batch, n)``; float32 logits ``(batch, value_count)`` after the last one."""
        import torch

        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[0] != self.batch or tokens.shape[1] < 1:
            raise StepperError(f"expected tokens of shape ({self.batch}, n >= 1), got {tokens.shape}")
        n = tokens.shape[1]
        start, end = self.length, self.length + n
        if end > self.context:
            raise StepperError(f"{end} tokens exceed the model's context of {self.context}")
        layer_norm = torch.nn.functional.layer_norm
        width, heads, dim, batch = self.width, self.heads, self.head_dim, self.batch
        with torch.inference_mode():
            ids = torch.from_numpy(tokens.astype(np.int64)).to(self.device)
            body = self.model.transformer
            h = (body.wte(ids) + body.wpe(self.positions[start:end])).view(batch * n, width)
            mask = None
            if n > 1:
                rows = self.positions[start:end, None]
                mask = torch.zeros((n, end), dtype=h.dtype, device=self.device)
                mask.masked_fill_(self.positions[None, :end] > rows, float("-inf"))
            for index, (ln1, qkv, proj, ln2, fc, act, out) in enumerate(self.params):
                x = layer_norm(h, (width,), ln1[0], ln1[1], ln1[2])
                q, k, v = torch.addmm(qkv[0], x, qkv[1]).view(batch, n, 3 * width).split(width, dim=2)
                q = q.view(batch, n, heads, dim).transpose(1, 2)
                self.keys[index, :, :, start:end] = k.view(batch, n, heads, dim).transpose(1, 2)
                self.values[index, :, :, start:end] = v.view(batch, n, heads, dim).transpose(1, 2)
                scores = torch.matmul(q, self.keys[index, :, :, :end].transpose(-1, -2)) * self.scales[index]
                if mask is not None:
                    scores = scores + mask
                attended = torch.matmul(torch.softmax(scores, dim=-1), self.values[index, :, :, :end])
                h = h + torch.addmm(proj[0], attended.transpose(1, 2).reshape(batch * n, width), proj[1])
                x = layer_norm(h, (width,), ln2[0], ln2[1], ln2[2])
                h = h + torch.addmm(out[0], act(torch.addmm(fc[0], x, fc[1])), out[1])
            last = h.view(batch, n, width)[:, -1]
            logits = torch.matmul(layer_norm(last, (width,), *self.final), self.head)
        self.length = end
        return logits.float().cpu().numpy()


def probe_fingerprint(model: Any, batch: int, value_count: int, device: str = "cpu") -> str:
    """SHA-256 (16 hex) of the logits of a fixed input fed as the codec feeds it (a prefill, then steps).

    Two machines that disagree here would decode each other's files wrongly; agreeing is necessary
    for exact decoding, not sufficient (the per-frame checksums catch the rest).
    """
    stepper = KVStepper(model, batch, value_count, device)
    rows = np.arange(batch)[:, None]
    pattern = (rows * 29 + np.arange(24)[None, :] * 37 + 11) % value_count
    digest = hashlib.sha256()
    digest.update(stepper.feed(pattern[:, :16]).tobytes())
    for i in range(16, 24):
        digest.update(stepper.feed(pattern[:, i : i + 1]).tobytes())
    return digest.hexdigest()[:16]
