"""A range coder in numba, word for word the bitstream of constriction's ``queue.RangeEncoder``.

32-bit words, a 64-bit state and 24-bit probabilities, as :mod:`trilobyte.gpt2.entropy` uses through
constriction; written as plain integer functions so that the hybrid kernels can code one symbol at a
time without leaving compiled code. ``tests/test_hybrid_exact.py`` checks that the words equal
constriction's for the same symbols and tables, and that constriction decodes them.

State ``rc`` (uint64[5]): lower, range, held-back word count, first held-back word, decoder point;
``io`` (int64[1]): words written or read so far.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PRECISION = 24
_P = np.uint64(PRECISION)
_WORD = np.uint64(32)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_LOW_LIMIT = np.uint64(1 << 32)  # range below this: emit a word
_WORD_MASK = np.uint64(0xFFFFFFFF)
_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRECISION_TOTAL = np.uint64(1 << PRECISION)


@njit(cache=True)
def encoder_init(rc: np.ndarray, io: np.ndarray) -> None:
    rc[0] = _ZERO
    rc[1] = _MAX
    rc[2] = _ZERO
    rc[3] = _ZERO
    rc[4] = _ZERO
    io[0] = 0


@njit(cache=True)
def _write(words: np.ndarray, io: np.ndarray, word: np.uint64) -> None:
    if io[0] < words.shape[0]:
        words[io[0]] = np.uint32(word & _WORD_MASK)
    io[0] += 1  # counted even past the end, so the caller sees the overflow


@njit(cache=True)
def _flush_held(rc: np.ndarray, io: np.ndarray, words: np.ndarray, point: np.uint64) -> None:
    """Write the ``rc[2]`` words held back: settled by whether ``point`` wrapped below the lower bound."""
    if point < rc[0]:
        first = rc[3] + _ONE
        rest = _ZERO
    else:
        first = rc[3]
        rest = _WORD_MASK
    _write(words, io, first)
    k = _ONE
    while k < rc[2]:
        _write(words, io, rest)
        k += _ONE


@njit(cache=True)
def encode(rc: np.ndarray, io: np.ndarray, words: np.ndarray, cum: int, freq: int) -> None:
    """Append the symbol whose interval is ``[cum, cum + freq)`` of ``2**24``."""
    scale = rc[1] >> _P
    rng = scale * np.uint64(freq)
    new_lower = rc[0] + scale * np.uint64(cum)
    if rc[2] > _ZERO and new_lower + rng > new_lower:
        _flush_held(rc, io, words, new_lower)
        rc[2] = _ZERO
    rc[0] = new_lower
    rc[1] = rng
    if rng < _LOW_LIMIT:
        rc[1] = rng << _WORD
        lower_word = rc[0] >> _WORD
        rc[0] = rc[0] << _WORD
        if rc[2] > _ZERO:
            rc[2] += _ONE
        elif rc[0] + rc[1] > rc[0]:
            _write(words, io, lower_word)
        else:
            rc[2] = _ONE
            rc[3] = lower_word


@njit(cache=True)
def finish(rc: np.ndarray, io: np.ndarray, words: np.ndarray) -> int:
    """Seal the stream (as constriction's ``get_compressed``); the number of words."""
    if rc[1] == _MAX:
        return io[0]
    point = rc[0] + (_LOW_LIMIT - _ONE)
    if rc[2] > _ZERO:
        _flush_held(rc, io, words, point)
    point_word = point >> _WORD
    _write(words, io, point_word)
    upper_word = (rc[0] + rc[1]) >> _WORD
    if upper_word == point_word:
        _write(words, io, _ZERO)
    return io[0]


@njit(cache=True)
def decoder_init(rc: np.ndarray, io: np.ndarray, words: np.ndarray) -> None:
    rc[0] = _ZERO
    rc[1] = _MAX
    rc[2] = _ZERO
    rc[3] = _ZERO
    point = _ZERO
    read = 0
    while read < 2 and read < words.shape[0]:
        point = (point << _WORD) | np.uint64(words[read])
        read += 1
    if read == 1:
        point = point << _WORD
    rc[4] = point
    io[0] = read


@njit(cache=True)
def quantile(rc: np.ndarray) -> int:
    """The point's position in ``[0, 2**24)`` under the current range; -1 for invalid data."""
    scale = rc[1] >> _P
    q = (rc[4] - rc[0]) // scale
    if q >= _PRECISION_TOTAL:
        return -1
    return np.int64(q)


@njit(cache=True)
def consume(rc: np.ndarray, io: np.ndarray, words: np.ndarray, cum: int, freq: int) -> None:
    """Remove the decoded symbol ``[cum, cum + freq)`` from the state (after :func:`quantile`)."""
    scale = rc[1] >> _P
    rc[0] = rc[0] + scale * np.uint64(cum)
    rc[1] = scale * np.uint64(freq)
    if rc[1] < _LOW_LIMIT:
        rc[0] = rc[0] << _WORD
        rc[1] = rc[1] << _WORD
        rc[4] = rc[4] << _WORD
        if io[0] < words.shape[0]:
            rc[4] = rc[4] | np.uint64(words[io[0]])
        io[0] += 1
