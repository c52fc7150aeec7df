"""Hypothesis strategies for integer PCM: a recipe of a few numbers that builds the samples deterministically.

A :class:`Signal` is what Hypothesis draws and prints, so a failing example is reproduced exactly from
its repr (``Signal(...).pcm()``) and shrinks towards short, plain signals. The kinds cover what a coder
must survive: digital silence, a constant, full-scale extremes, square waves, white noise from clipped
full scale down to the last bit, sparse full-scale spikes after silence (they throw an adaptive
coder's scale out of its central bins: escape codes), slow ramps, a mixture of these within one
signal, a mixture held (every value repeated 2 to 16 times, from any phase: a sound played at a
multiple of its rate), and sample values drawn one by one (which shrink sample by sample).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

BASIC_KINDS = ("silence", "constant", "extremes", "square", "noise", "spikes", "ramp")
KINDS = (*BASIC_KINDS, "mixture", "held", "drawn")
CHANNEL_RELATIONS = ("independent", "same", "negated", "near")
RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000)
MAX_DRAWN = 300


@dataclass(frozen=True)
class Signal:
    """How to build one ``(num_samples, channels)`` int64 signal.

    ``level``: noise has a standard deviation of full scale / 2**level, square waves an amplitude of
    full scale >> level; ``period``: a square wave's half period, the spikes' mean gap, the number of
    segments of a mixture and, plus 2 and modulo 15, how often kind ``held`` repeats each value;
    ``relation``: how channels after the first follow it; ``values``: the interleaved samples of kind
    ``drawn``.
    """

    kind: str
    num_samples: int
    channels: int
    bit_depth: int
    sample_rate: int
    seed: int = 0
    level: int = 0
    period: int = 1
    relation: str = "independent"
    values: tuple[int, ...] = ()

    @property
    def low(self) -> int:
        return -(1 << (self.bit_depth - 1))

    @property
    def high(self) -> int:
        return (1 << (self.bit_depth - 1)) - 1

    def pcm(self) -> np.ndarray:
        """The samples, every one within the bit depth's range."""
        n, low, high = self.num_samples, self.low, self.high
        if self.kind == "drawn":
            return np.clip(np.array(self.values[: n * self.channels], np.int64), low, high).reshape(n, self.channels)
        if self.kind == "held":
            hold = self.period % 15 + 2
            base = replace(self, kind="mixture", num_samples=n // hold + 2).pcm()
            return np.repeat(base, hold, axis=0)[self.seed % hold: self.seed % hold + n]
        rng = np.random.default_rng(self.seed)
        first = self._channel(rng, self.kind, n)
        out = [first]
        for _ in range(1, self.channels):
            if self.relation == "same":
                out.append(first.copy())
            elif self.relation == "negated":
                out.append(np.clip(-first, low, high))
            elif self.relation == "near":
                out.append(np.clip(first + rng.integers(-3, 4, n), low, high))
            else:
                out.append(self._channel(rng, self.kind, n))
        return np.stack(out, axis=1).astype(np.int64)

    def _channel(self, rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
        low, high = self.low, self.high
        t = np.arange(n)
        if kind == "silence":
            return np.zeros(n, np.int64)
        if kind == "constant":
            return np.full(n, rng.choice([low, high, int(rng.integers(low, high + 1))]), np.int64)
        if kind == "extremes":
            return rng.choice(np.array([low, high]), n)
        if kind == "square":
            amplitude = high >> min(self.level, self.bit_depth - 1)
            return np.where((t // self.period) % 2 == 0, amplitude, -amplitude - 1).astype(np.int64)
        if kind == "noise":
            sigma = (high + 1) / 2.0**self.level
            return np.clip(np.round(rng.normal(0.0, sigma, n)), low, high).astype(np.int64)
        if kind == "spikes":
            x = np.zeros(n, np.int64)
            hits = rng.random(n) < 1.0 / self.period
            if n:
                hits[rng.integers(0, n)] = True  # at least one
            x[hits] = rng.choice(np.array([low, high]), int(hits.sum()))
            return x
        if kind == "ramp":
            ends = rng.integers(low, high + 1, 2)
            return np.round(np.linspace(ends[0], ends[1], n)).astype(np.int64)
        # a mixture: the basic kinds one after another, cut at random places
        cuts = np.sort(rng.integers(0, n + 1, max(1, self.period % 6)))
        parts = np.split(t, cuts)
        return np.concatenate([self._channel(rng, str(rng.choice(BASIC_KINDS)), len(p)) for p in parts])


@st.composite
def signals(draw: st.DrawFn, min_samples: int = 1, max_samples: int = 4000,
            edge_lengths: tuple[int, ...] = (), channels: tuple[int, int] = (1, 2),
            depths: tuple[int, ...] = (8, 16, 24), kinds: tuple[str, ...] = KINDS) -> Signal:
    """A :class:`Signal` of ``min_samples..max_samples`` samples: often the upper half of that range, and
    those of ``edge_lengths`` within it (e.g. a frame's length and one either side) more often than the rest."""
    kind = draw(st.sampled_from(kinds))
    lengths = st.one_of(st.integers(min_samples, max_samples), st.integers(max_samples // 2, max_samples))
    edges = [n for n in edge_lengths if min_samples <= n <= max_samples]
    if edges:
        lengths = st.one_of(st.sampled_from(edges), lengths)
    depth = draw(st.sampled_from(depths))
    rate = draw(st.one_of(st.sampled_from(RATES), st.integers(8000, 96000)))
    count = draw(st.integers(*channels))
    if kind == "drawn":
        values = draw(st.lists(st.integers(-(1 << (depth - 1)), (1 << (depth - 1)) - 1),
                               min_size=max(min_samples, 1) * count, max_size=min(max_samples, MAX_DRAWN) * count))
        return Signal(kind, len(values) // count, count, depth, rate, values=tuple(values))
    return Signal(
        kind,
        draw(lengths),
        count,
        depth,
        rate,
        seed=draw(st.integers(0, 2**32 - 1)),
        level=draw(st.integers(0, depth)),
        period=draw(st.integers(1, 500)),
        relation=draw(st.sampled_from(CHANNEL_RELATIONS)),
    )
