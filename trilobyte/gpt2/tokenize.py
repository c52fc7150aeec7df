"""Audio samples to language-model tokens and back: Trilobyte bytes and sample-level tokens.

Two schemes, each an exact, invertible map from integer PCM to token ids:

* ``"bytes"`` (Trilobyte): each b-bit sample is offset to unsigned (``s + 2**(b-1)``) and split into
  b/8 byte tokens, most significant first. One vocabulary of 256 byte values serves every depth. A
  model built for ``bit_depth`` D holds D/8 byte slots per sample; a shallower clip fills its top
  slots and the missing low bytes are the learned NULL token, so one model serves 8, 16 and 24-bit
  audio (the paper's Transfer model). Training may hide low bytes of deeper clips behind NULL too
  (``depth_dropout``).
* ``"sample"`` ("Standard"): one token per sample, a vocabulary of 2**b values; 8 and 16-bit only.

After the values come the special tokens BOS (starts every clip), NULL (a masked byte) and PAD (past
the end of a clip). Only value tokens are ever scored: NULL and PAD are known to the decoder and cost
nothing.

A clip's sequence is ``[BOS] + body``. Multi-channel audio is laid out either channel after channel
(``"concat"``, the paper's choice; the channel order is random in training, fixed when evaluating) or
sample-interleaved (``"interleave"``: one frame after another, channels in order inside a frame).
Either way every sample is ``tokens_per_sample`` consecutive body tokens, so the byte slot of body
token i is ``i % tokens_per_sample``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trilobyte.core.audio import check_range

SCHEMES = ("bytes", "sample")
LAYOUTS = ("concat", "interleave")
BYTE_DEPTHS = (8, 16, 24)
SAMPLE_DEPTHS = (8, 16)


class TokenizeError(ValueError):
    """Settings or tokens that cannot be used: an unsupported depth, a malformed sequence, ..."""


@dataclass(frozen=True)
class TokenizerSettings:
    """How audio becomes tokens; saved beside every model so that it is read back the same way.

    ``bit_depth`` is the deepest audio the model takes (bytes: 8, 16 or 24; sample: 8 or 16).
    ``depth_dropout`` maps a shallower depth to the probability that a training window of deeper
    audio is shown at that depth, its lower bytes replaced by NULL (bytes scheme only).
    """

    scheme: str = "bytes"
    bit_depth: int = 16
    stereo: str = "concat"
    depth_dropout: tuple[tuple[int, float], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise TokenizeError(f"scheme must be one of {SCHEMES}, not {self.scheme!r}")
        if self.stereo not in LAYOUTS:
            raise TokenizeError(f"stereo layout must be one of {LAYOUTS}, not {self.stereo!r}")
        if self.scheme == "sample" and self.bit_depth == 24:
            raise TokenizeError(
                "sample-level tokens at 24 bits need a 16,777,216-token vocabulary (an output layer of"
                " billions of parameters); use the bytes scheme (Trilobyte) for 24-bit audio"
            )
        depths = BYTE_DEPTHS if self.scheme == "bytes" else SAMPLE_DEPTHS
        if self.bit_depth not in depths:
            raise TokenizeError(
                f"the {self.scheme} scheme supports bit depths {depths}, not {self.bit_depth}"
            )
        dropout = tuple(sorted((int(d), float(p)) for d, p in self.depth_dropout))
        object.__setattr__(self, "depth_dropout", dropout)
        if dropout and self.scheme != "bytes":
            raise TokenizeError("depth dropout masks low bytes: it needs the bytes scheme")
        for depth, prob in dropout:
            if depth not in BYTE_DEPTHS or depth >= self.bit_depth:
                raise TokenizeError(
                    f"depth dropout targets must be 8 or 16 and below {self.bit_depth}, not {depth}"
                )
            if not 0.0 <= prob <= 1.0:
                raise TokenizeError(f"depth dropout probability must lie in [0, 1], not {prob}")
        if sum(p for _, p in dropout) > 1.0 + 1e-9:
            raise TokenizeError(f"depth dropout probabilities add up to more than 1: {dropout}")

    # -- vocabulary

    @property
    def tokens_per_sample(self) -> int:
        return self.bit_depth // 8 if self.scheme == "bytes" else 1

    @property
    def value_count(self) -> int:
        """Number of value tokens (ids ``0 .. value_count - 1``)."""
        return 256 if self.scheme == "bytes" else 1 << self.bit_depth

    @property
    def bos(self) -> int:
        return self.value_count

    @property
    def null(self) -> int:
        return self.value_count + 1

    @property
    def pad(self) -> int:
        return self.value_count + 2

    @property
    def vocab_size(self) -> int:
        return self.value_count + 3

    @property
    def dtype(self) -> type[np.integer]:
        return np.uint16 if self.vocab_size <= 1 << 16 else np.int32

    def bits_per_token(self, clip_depth: int) -> int:
        """Raw bits that one value token stands for."""
        return 8 if self.scheme == "bytes" else clip_depth

    def check_depth(self, clip_depth: int) -> None:
        """Raise unless clips of ``clip_depth`` bits can be tokenized with these settings."""
        if self.scheme == "sample":
            if clip_depth != self.bit_depth:
                raise TokenizeError(
                    f"a {self.bit_depth}-bit sample-level model cannot take {clip_depth}-bit audio"
                    " (only the bytes scheme masks missing low bytes)"
                )
        elif clip_depth not in BYTE_DEPTHS:
            raise TokenizeError(
                f"Trilobyte byte tokens need 8, 16 or 24-bit audio (whole bytes); this file is {clip_depth}-bit"
            )
        elif clip_depth > self.bit_depth:
            raise TokenizeError(f"a {self.bit_depth}-bit Trilobyte model cannot take {clip_depth}-bit audio")

    def real_slots(self, clip_depth: int) -> int:
        """Byte slots of each sample that hold real values at ``clip_depth`` (the rest are NULL)."""
        self.check_depth(clip_depth)
        return clip_depth // 8 if self.scheme == "bytes" else 1

    def slot_names(self, clip_depth: int) -> list[str]:
        """Names of a clip's real slots: msb, mid, lsb (8-bit: msb; sample scheme: sample)."""
        if self.scheme == "sample":
            return ["sample"]
        return {1: ["msb"], 2: ["msb", "lsb"], 3: ["msb", "mid", "lsb"]}[self.real_slots(clip_depth)]

    # -- persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "bit_depth": self.bit_depth,
            "stereo": self.stereo,
            "depth_dropout": {str(d): p for d, p in self.depth_dropout},
            "vocab_size": self.vocab_size,
            "bos": self.bos,
            "null": self.null,
            "pad": self.pad,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerSettings:
        dropout = tuple((int(d), float(p)) for d, p in (data.get("depth_dropout") or {}).items())
        settings = cls(data["scheme"], int(data["bit_depth"]), data.get("stereo", "concat"), dropout)
        if "vocab_size" in data and data["vocab_size"] != settings.vocab_size:
            raise TokenizeError(
                f"saved vocab size {data['vocab_size']} != {settings.vocab_size} for {settings}"
            )
        return settings


def parse_depth_dropout(text: str) -> tuple[tuple[int, float], ...]:
    """``"8=0.2,16=0.2"`` -> ``((8, 0.2), (16, 0.2))``; ``""`` or ``"none"`` -> ``()``."""
    if text in ("", "none"):
        return ()
    pairs = []
    for part in text.split(","):
        depth, sep, prob = part.partition("=")
        try:
            if not sep:
                raise ValueError
            pairs.append((int(depth), float(prob)))
        except ValueError as err:
            raise TokenizeError(f"depth dropout looks like 8=0.2,16=0.2, not {text!r}") from err
    return tuple(pairs)


# -- one channel ----------------------------------------------------------------------------------


def channel_tokens(samples: np.ndarray, clip_depth: int, settings: TokenizerSettings) -> np.ndarray:
    """Tokens of one channel's samples: ``tokens_per_sample`` per sample, MSB first, NULL-filled."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise TokenizeError(f"one channel's samples must be 1-D, got shape {samples.shape}")
    k = settings.real_slots(clip_depth)
    check_range(samples, clip_depth)
    unsigned = samples.astype(np.int64) + (1 << (clip_depth - 1))
    out = np.full((samples.shape[0], settings.tokens_per_sample), settings.null, dtype=settings.dtype)
    if settings.scheme == "sample":
        out[:, 0] = unsigned
    else:
        for slot in range(k):
            out[:, slot] = (unsigned >> (8 * (k - 1 - slot))) & 0xFF
    return out.reshape(-1)


def channel_samples(tokens: np.ndarray, clip_depth: int, settings: TokenizerSettings) -> np.ndarray:
    """Exact inverse of :func:`channel_tokens`; raises on any token out of place."""
    k = settings.real_slots(clip_depth)
    per = settings.tokens_per_sample
    tokens = np.asarray(tokens).astype(np.int64)
    if tokens.ndim != 1 or tokens.shape[0] % per:
        raise TokenizeError(
            f"expected a 1-D run of whole samples ({per} tokens each), got shape {tokens.shape}"
        )
    frames = tokens.reshape(-1, per)
    real, masked = frames[:, :k], frames[:, k:]
    if np.any(real >= settings.value_count):
        raise TokenizeError("a real sample slot holds a special token (BOS, NULL or PAD)")
    if np.any(masked != settings.null):
        raise TokenizeError(f"slots below the clip's {clip_depth} bits must all be NULL")
    unsigned = np.zeros(frames.shape[0], dtype=np.int64)
    step = 8 if settings.scheme == "bytes" else clip_depth
    for slot in range(k):
        unsigned = (unsigned << step) | real[:, slot]
    return (unsigned - (1 << (clip_depth - 1))).astype(np.int32)


# -- whole clips ----------------------------------------------------------------------------------


@dataclass
class ClipTokens:
    """A clip's tokens per channel, shape ``(channels, num_samples * tokens_per_sample)``.

    Its sequence is ``[BOS] + body`` with the channels laid out by ``settings.stereo`` in a given
    channel order; :meth:`gather` reads any span of it (PAD past the end) without building it.
    """

    streams: np.ndarray
    clip_depth: int
    settings: TokenizerSettings

    @classmethod
    def from_samples(cls, samples: np.ndarray, clip_depth: int, settings: TokenizerSettings) -> ClipTokens:
        samples = np.asarray(samples)
        if samples.ndim != 2 or samples.shape[1] < 1:
            raise TokenizeError(f"samples must have shape (num_samples, channels), got {samples.shape}")
        streams = np.stack(
            [channel_tokens(samples[:, c], clip_depth, settings) for c in range(samples.shape[1])]
        )
        return cls(streams, clip_depth, settings)

    @property
    def channels(self) -> int:
        return int(self.streams.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.streams.shape[1]) // self.settings.tokens_per_sample

    @property
    def body_length(self) -> int:
        return int(self.streams.size)

    @property
    def length(self) -> int:
        """Length of the sequence, BOS included."""
        return self.body_length + 1

    def check_order(self, order: Sequence[int] | None) -> tuple[int, ...]:
        order = tuple(range(self.channels)) if order is None else tuple(int(c) for c in order)
        if sorted(order) != list(range(self.channels)):
            raise TokenizeError(f"channel order {order} is not a permutation of {self.channels} channels")
        return order

    def body_index(
        self, index: np.ndarray, order: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(channel, position in that channel's stream) of body tokens ``index``."""
        order_arr = np.asarray(self.check_order(order))
        per, per_channel = self.settings.tokens_per_sample, self.streams.shape[1]
        if self.settings.stereo == "concat":
            return order_arr[index // per_channel], index % per_channel
        sample, slot = index // per, index % per
        return order_arr[sample % self.channels], (sample // self.channels) * per + slot

    def gather(self, start: int, length: int, order: Sequence[int] | None = None) -> np.ndarray:
        """Tokens ``start .. start + length - 1`` of the sequence (index 0 is BOS; PAD past the end)."""
        s = self.settings
        index = np.arange(start, start + length, dtype=np.int64)
        out = np.full(length, s.pad, dtype=s.dtype)
        out[index == 0] = s.bos
        inside = (index >= 1) & (index < self.length)
        channel, position = self.body_index(index[inside] - 1, order)
        out[inside] = self.streams[channel, position]
        return out

    def sequence(self, order: Sequence[int] | None = None) -> np.ndarray:
        """The whole sequence, ``[BOS] + body``."""
        return self.gather(0, self.length, order)


def encode(
    samples: np.ndarray, clip_depth: int, settings: TokenizerSettings, order: Sequence[int] | None = None
) -> np.ndarray:
    """A clip's token sequence ``[BOS] + body``; samples have shape ``(num_samples, channels)``."""
    return ClipTokens.from_samples(samples, clip_depth, settings).sequence(order)


def decode(
    sequence: np.ndarray,
    channels: int,
    clip_depth: int,
    settings: TokenizerSettings,
    order: Sequence[int] | None = None,
) -> np.ndarray:
    """Exact inverse of :func:`encode`: samples of shape ``(num_samples, channels)``."""
    sequence = np.asarray(sequence)
    per = settings.tokens_per_sample
    if sequence.ndim != 1 or sequence.shape[0] < 1 or sequence[0] != settings.bos:
        raise TokenizeError("a token sequence must be 1-D and start with BOS")
    body = sequence[1:]
    if body.shape[0] % (per * channels):
        raise TokenizeError(f"{body.shape[0]} body tokens are not whole frames of {channels} x {per} tokens")
    n = body.shape[0] // (per * channels)
    probe = ClipTokens(np.zeros((channels, n * per), dtype=settings.dtype), clip_depth, settings)
    channel, position = probe.body_index(np.arange(body.shape[0], dtype=np.int64), order)
    streams = np.empty((channels, n * per), dtype=np.int64)
    streams[channel, position] = body
    return np.stack([channel_samples(streams[c], clip_depth, settings) for c in range(channels)], axis=1)


# -- scoring and masking ----------------------------------------------------------------------------


def is_value(tokens: np.ndarray, settings: TokenizerSettings) -> np.ndarray:
    """True where a token is a real value (scored); False for BOS, NULL and PAD (never scored)."""
    return np.asarray(tokens) < settings.value_count


def slot_of(sequence_index: np.ndarray, settings: TokenizerSettings) -> np.ndarray:
    """Byte slot (0 = MSB) of sequence positions ``sequence_index`` (>= 1; index 0 is BOS)."""
    return (np.asarray(sequence_index) - 1) % settings.tokens_per_sample


def draw_depth(rng: np.random.Generator, clip_depth: int, settings: TokenizerSettings) -> int:
    """The depth at which a training window of a ``clip_depth``-bit clip is shown (depth dropout)."""
    choices = [(d, p) for d, p in settings.depth_dropout if d < clip_depth]
    if not choices:
        return clip_depth
    u = rng.random()
    for depth, prob in choices:
        if u < prob:
            return depth
        u -= prob
    return clip_depth


def mask_low_bytes(window: np.ndarray, start: int, depth: int, settings: TokenizerSettings) -> np.ndarray:
    """Replace the value tokens of slots below ``depth`` bits by NULL in a window starting at ``start``.

    Keeping the top ``depth / 8`` bytes of the offset sample is exactly the linear conversion to
    ``depth`` bits, so a masked 24-bit window is what a ``depth``-bit clip looks like to the model.
    """
    keep = settings.real_slots(depth)
    if keep == settings.tokens_per_sample:
        return window
    index = np.arange(start, start + window.shape[0])
    hide = (index >= 1) & (slot_of(index, settings) >= keep) & is_value(window, settings)
    out = window.copy()
    out[hide] = settings.null
    return out
