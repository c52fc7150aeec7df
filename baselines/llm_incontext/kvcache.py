"""A key/value cache for one-token steps whose cost follows the tokens fed so far.

transformers' ``DynamicCache`` appends a step's keys and values with ``torch.cat``: every step copies
each layer's whole cache into freshly allocated memory, so a step's cost grows with the tokens fed so
far in copies as well as in attention, and a chunk of ``n`` steps copies ``O(n**2)`` values. At 1,000
tokens of SmolLM2-135M in a batch of 4 those copies (60 per step, 3 MB each, into new pages) took more
time than the model's matrix products. :class:`GrowingLayer` keeps each layer's keys and values in a
buffer that doubles when full (amortized one copy per token) and hands attention a view of exactly the
positions fed so far: the arithmetic is the same as ``DynamicCache``'s, only the copies go. A caller
that knows how many positions it will feed (a coder knows its chunks' lengths) gives that as the
capacity, and the buffers never grow.

A coder stepping 128 chunks together spends a third of each step in attention, reading every row's own
cached keys and values (about 24 MB per token at 512 positions for SmolLM2-135M in float32). A float32
model with transformers' sdpa attention therefore steps with a half cache: keys and values stored in
bfloat16 (half the bytes to read), in buffers that grow a :data:`PAGE` of positions at a time, read by
:func:`step_attention_forward` with plain matrix products over each layer's whole buffer (bfloat16
products over a strided prefix copy it first; a whole buffer is read in place, at most a page past the
positions fed). Encoder and decoder step through the same shapes, so they compute the same numbers;
against float32 keys and values a token's cost moves by hundredths of a bit, a chunk's by about 0.01%.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

INITIAL_CAPACITY = 64  # positions a layer's buffer holds before it first grows
PAGE = 64  # positions a half-precision step cache grows by (its attention reads whole buffers)
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
        """A ``DynamicLayer`` whose ``keys``/``values`` are views of growing buffers (no copy per step).

        The buffers double when full, or hold ``page`` positions more where ``page`` is set: a
        half-precision step cache (``dtype``) whose attention reads whole buffers keeps them at most a
        page past the positions fed.
        """

        def __init__(self, capacity: int = 0, dtype: Any = None, page: int = 0) -> None:
            super().__init__()
            self.initial_capacity = capacity
            self.storage_dtype = dtype
            self.page = page

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            self.device = key_states.device
            self.length = 0
            size = self.initial_capacity
            dtype = self.storage_dtype or key_states.dtype
            shape = (*key_states.shape[:2], size, key_states.shape[-1])
            # zeros: the half cache's attention reads whole buffers (the positions not yet fed weigh
            # nothing there, and must not be NaN)
            self.key_buffer = key_states.new_zeros(shape, dtype=dtype)
            self.value_buffer = value_states.new_zeros(shape, dtype=dtype)
            self.keys = self.key_buffer
            self.values = self.value_buffer
            self.is_initialized = True

        def _grow(self, needed: int) -> None:
            if self.page:
                capacity = -(-needed // self.page) * self.page
            else:
                capacity = max(INITIAL_CAPACITY, 2 * self.key_buffer.shape[-2], needed)
            for name in ("key_buffer", "value_buffer"):
                old = getattr(self, name)
                new = old.new_zeros((*old.shape[:2], capacity, old.shape[-1]))
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
            """Positions the buffers hold (at most twice the tokens fed, or INITIAL_CAPACITY; with pages, the
            tokens fed rounded up to a whole page)."""
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


def step_cache(model: Any, capacity: int | None = None, half: bool = False) -> Any:
    """A fresh cache for :class:`~baselines.llm_incontext.scoring.StepwisePredictor`.

    A cache of :class:`GrowingLayer`\\ s where the model attends over all past positions and transformers
    has per-layer caches; otherwise None (the model makes its own ``DynamicCache``: correct, slower).
    ``capacity``: the positions each layer's buffers hold from the start (they grow past it if fed more).
    ``half``: keys and values in bfloat16, growing a :data:`PAGE` at a time, for :data:`STEP_ATTENTION`.
    """
    found = _transformers_cache()
    if found is None or not uses_full_attention_only(model.config):
        return None
    cache_class, dynamic_layer = found
    if half:
        import torch

        layer = functools.partial(_growing_layer_class(dynamic_layer), 0, torch.bfloat16, PAGE)
    else:
        layer = functools.partial(_growing_layer_class(dynamic_layer), capacity or 0)
    return cache_class(layer_class_to_replicate=layer)


def half_cache_applies(model: Any) -> bool:
    """True where a stepped ``model`` keeps its keys and values in bfloat16 and attends with
    :data:`STEP_ATTENTION`: a float32 model using transformers' sdpa attention, with a step cache."""
    import torch

    config = model.config
    return (
        next(model.parameters()).dtype == torch.float32
        and getattr(config, "_attn_implementation", None) == "sdpa"
        and _transformers_cache() is not None
        and uses_full_attention_only(config)
    )


def cache_bytes_per_position(model: Any) -> int:
    """Bytes of keys and values one position of one row takes in every layer (in the step cache)."""
    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    element = 2 if half_cache_applies(model) else next(model.parameters()).element_size()
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


STEP_ATTENTION = "trilobyte-step"  # the attention implementation a stepped model uses (registered once)


def whole_buffer(view: Any) -> tuple[Any, int]:
    """``(buffer, filled)``: the whole ``(rows, heads, capacity, width)`` buffer behind a
    :class:`GrowingLayer`'s view of its first ``filled`` positions (the view itself where it is no such
    prefix)."""
    rows, heads, filled, width = view.shape
    capacity = view.stride(1) // width if width else filled
    if view.stride() != (heads * capacity * width, capacity * width, width, 1) or capacity < filled:
        return view.contiguous(), filled
    return view.as_strided((rows, heads, capacity, width), view.stride()), filled


def step_attention_forward(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None = None, **kwargs: Any
) -> tuple[Any, None]:
    """One query per row against a half-precision :class:`GrowingLayer` cache; anything else is sdpa's.

    The matrix products read each layer's whole buffer, the positions not yet fed masked out of the
    softmax (its zeros add nothing): bfloat16 products over a strided prefix copy it first, which costs
    more than the products, while a whole buffer is read in place. Grouped-query heads share their keys
    without copies.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.shape[2] != 1 or attention_mask is not None or key.dtype == query.dtype:
        key, value = key.to(query.dtype), value.to(query.dtype)
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
    rows, heads, _, width = query.shape
    keys, filled = whole_buffer(key)
    values, _ = whole_buffer(value)
    kv_heads = keys.shape[1]
    scale = scaling if scaling is not None else width**-0.5
    grouped = (query * scale).to(keys.dtype).view(rows, kv_heads, heads // kv_heads, width)
    scores = torch.matmul(grouped, keys.transpose(-1, -2)).float()
    scores[..., filled:] = float("-inf")
    weights = torch.softmax(scores, dim=-1).to(values.dtype)
    out = torch.matmul(weights, values).to(query.dtype)
    return out.view(rows, heads, 1, width).transpose(1, 2).contiguous(), None


@functools.cache
def register_step_attention() -> str:
    """Register :data:`STEP_ATTENTION` with transformers (sdpa's masks) and return its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(STEP_ATTENTION, step_attention_forward)
    AttentionMaskInterface.register(STEP_ATTENTION, sdpa_mask)
    return STEP_ATTENTION


@contextlib.contextmanager
def step_attention(model: Any, on: bool) -> Iterator[None]:
    """Within the block, ``model`` attends with :data:`STEP_ATTENTION` (where ``on``); its own after."""
    if not on:
        yield
        return
    own = model.config._attn_implementation
    model.set_attn_implementation(register_step_attention())
    try:
        yield
    finally:
        model.set_attn_implementation(own)
