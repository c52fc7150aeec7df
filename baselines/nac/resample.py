"""Deterministic band-limited resampling in torch, for a neural codec's input and output only.

The audio a codec is scored on is never resampled: a file at another rate than the codec's is
resampled on its way into the model and the reconstruction on its way back, and the residual is taken
against the file's own integer samples. Both directions are a windowed-sinc polyphase filter (Hann
window, 6 zero crossings, cut-off at 0.99 of the lower Nyquist rate) whose taps are computed in
float64 from the two rates alone, then applied as one strided float32 convolution: the same rates and
the same input give the same output in every process (with the same torch thread count).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

ZERO_CROSSINGS = 6
ROLLOFF = 0.99


@functools.cache
def _kernel(orig: int, new: int) -> tuple[np.ndarray, int]:
    """Polyphase taps ``(new, 2 * width + orig)`` for ``orig`` -> ``new`` (rates divided by their gcd)."""
    cutoff = min(orig, new) * ROLLOFF
    width = math.ceil(ZERO_CROSSINGS * orig / cutoff)
    offsets = np.arange(-width, width + orig, dtype=np.float64) / orig
    t = (-np.arange(new, dtype=np.float64)[:, None] / new + offsets[None, :]) * cutoff
    t = np.clip(t, -ZERO_CROSSINGS, ZERO_CROSSINGS)
    window = np.cos(t * math.pi / ZERO_CROSSINGS / 2) ** 2
    t = t * math.pi
    sinc = np.where(t == 0, 1.0, np.sin(t) / np.where(t == 0, 1.0, t))
    return (sinc * window * (cutoff / orig)).astype(np.float32), width


def resampled_length(length: int, orig_rate: int, new_rate: int) -> int:
    """Samples after resampling ``length`` samples: ceil(length * new / orig)."""
    g = math.gcd(orig_rate, new_rate)
    return -(-length * (new_rate // g) // (orig_rate // g))


def resample(x: Any, orig_rate: int, new_rate: int) -> Any:
    """Resample a float tensor ``(channels, time)`` from ``orig_rate`` to ``new_rate`` Hz."""
    import torch

    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, not {orig_rate} and {new_rate}")
    if orig_rate == new_rate:
        return x
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    taps, width = _kernel(orig, new)
    kernel = torch.from_numpy(taps)[:, None, :].to(x.dtype)
    length = x.shape[-1]
    padded = torch.nn.functional.pad(x[:, None, :], (width, width + orig))
    out = torch.nn.functional.conv1d(padded, kernel, stride=orig)  # (channels, new, frames)
    out = out.transpose(1, 2).reshape(x.shape[0], -1)
    return out[:, : resampled_length(length, orig_rate, new_rate)]
