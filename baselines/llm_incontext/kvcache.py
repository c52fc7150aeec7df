"""A key/value cache for one-token steps whose cost follows the tokens fed so far.

transformers' ``DynamicCache`` appends a step's keys and values with ``torch.cat``: every step copies
each layer's whole cache into freshly allocated memory, so a step's cost grows with the tokens fed so
far in copies as well as in attention, and a chunk of ``n`` steps copies ``O(n**2)`` values. At 1,000
tokens of SmolLM2-135M in a batch of 4 those copies (60 per step, 3 MB each, into new pages) took more
time than the model's matrix products. :class:`GrowingLayer` keeps each layer's keys and values in a
buffer that doubles when full (amortized one copy per token) and hands attention a view of exactly the
positions fed so far: the arithmetic is the same as ``DynamicCache``'s, only the copies go. A caller
that knows how many positions it will feed (a coder knows its chunks' lengths) gives that as the
capacity, and the buffers never grow: a batch of 64 chunks of 1,024 tokens of SmolLM2-135M holds 3 GB of
keys and values, which doubling would briefly make 4.5 GB.
"""

from __future__ import annotations

import functools
import os
from typing import Any

INITIAL_CAPACITY = 64  # positions a layer's buffer holds before it first grows
MEMORY_SHARE = 4  # a coded batch's keys and values may take up to 1/MEMORY_SHARE of the device's memory


def _transformers_cache() -> tuple[Any, Any] | None:
    """``(Cache, DynamicLayer)`` where transformers has per-layer caches (5.x, late 4.x), else None."""
    try:
        from transformers.cache_utils import Cache, DynamicLayer
    except ImportError:
        return None
    return Cache, DynamicLayer


@functools.cache
def _growing_layer_class(dynamic_layer: Any) -> type:
    class GrowingLayer(dynamic_layer):
        """A ``DynamicLayer`` whose ``keys``/``values`` are views of doubling buffers (no copy per step)."""

        def __init__(self, capacity: int = 0) -> None:
            super().__init__()
            self.initial_capacity = capacity

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            self.device = key_states.device
            self.length = 0
            size = self.initial_capacity
            self.key_buffer = key_states.new_empty((*key_states.shape[:2], size, key_states.shape[-1]))
            self.value_buffer = value_states.new_empty((*value_states.shape[:2], size, value_states.shape[-1]))
            self.keys = self.key_buffer
            self.values = self.value_buffer
            self.is_initialized = True

        def _grow(self, needed: int) -> None:
            capacity = max(INITIAL_CAPACITY, 2 * self.key_buffer.shape[-2], needed)
            for name in ("key_buffer", "value_buffer"):
                old = getattr(self, name)
                new = old.new_empty((*old.shape[:2], capacity, old.shape[-1]))
                new[:, :, : self.length] = old[:, :, : self.length]
                setattr(self, name, new)

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.key_buffer.shape[-2]:
                self._grow(end)
            self.key_buffer[:, :, self.length : end] = key_states
            self.value_buffer[:, :, self.length : end] = value_states
            self.length = end
            self.keys = self.key_buffer[:, :, :end]
            self.values = self.value_buffer[:, :, :end]
            return self.keys, self.values

        def capacity(self) -> int:
            """Positions the buffers hold (at most twice the tokens fed, or INITIAL_CAPACITY)."""
            return int(self.key_buffer.shape[-2]) if self.is_initialized else 0

        def reset(self) -> None:
            self.keys = self.values = None
            self.is_initialized = False
            self.length = 0

        def crop(self, tokens_to_remove: int) -> None:
            raise NotImplementedError("a stepping cache only grows")

    return GrowingLayer


def uses_full_attention_only(config: Any) -> bool:
    """True when every layer attends over all past positions (no sliding windows, no linear attention)."""
    if getattr(config, "sliding_window", None) or getattr(config, "attention_chunk_size", None):
        return False
    layer_types = getattr(config, "layer_types", None)
    return not layer_types or all(t == "full_attention" for t in layer_types)


def step_cache(model: Any, capacity: int | None = None) -> Any:
    """A fresh cache for :class:`~baselines.llm_incontext.scoring.StepwisePredictor`.

    A cache of :class:`GrowingLayer`\\ s where the model attends over all past positions and transformers
    has per-layer caches; otherwise None (the model makes its own ``DynamicCache``: correct, slower).
    ``capacity``: the positions each layer's buffers hold from the start (they grow past it if fed more).
    """
    found = _transformers_cache()
    if found is None or not uses_full_attention_only(model.config):
        return None
    cache_class, dynamic_layer = found
    layer = functools.partial(_growing_layer_class(dynamic_layer), capacity or 0)
    return cache_class(layer_class_to_replicate=layer)


def cache_bytes_per_position(model: Any) -> int:
    """Bytes of keys and values one position of one row takes in every layer."""
    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    element = next(model.parameters()).element_size()
    return config.num_hidden_layers * 2 * heads * head_dim * element


def device_memory(device: Any) -> int | None:
    """Bytes of memory on ``device`` (a CUDA device's own, else the machine's), None where unknown."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def rows_that_fit(model: Any, positions: int, device: Any) -> int | None:
    """How many rows of ``positions`` cached positions fit in 1/MEMORY_SHARE of the device's memory (at
    least 1); None where the memory is unknown."""
    memory = device_memory(device)
    if memory is None:
        return None
    return max(1, memory // MEMORY_SHARE // (positions * cache_bytes_per_position(model)))
