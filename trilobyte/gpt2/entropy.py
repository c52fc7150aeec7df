"""Logits to integer probability tables, and range coding of symbols under those tables.

The model and the coder meet only here, through one deterministic function:
:func:`probability_table` maps float32 logits to integer frequencies (each at least 1, summing to
exactly ``2**PRECISION``). It uses IEEE-754 basic operations (+, -, x, floor, exact power-of-two
scaling) and integer arithmetic only; no libm ``exp`` or ``log``, whose last bit differs between
platforms and vector widths. So the same logits give the same table on every machine.

The tables are handed to constriction's range coder (``constriction.stream.queue``) through its
``Categorical(perfect=False)`` model family. That model quantizes floating-point weights ``w`` by
``floor(cumsum(w) * scale) + index`` with ``scale = (2**24 - n) / sum(w)``; given the integer weights
``table - 1`` (whose sum is ``2**24 - n``, so ``scale`` is exactly 1 and every partial sum is an exact
integer), it reproduces our table exactly. The coded size is therefore the table's information content
``sum(-log2(table[s] / 2**24))`` plus a few words of coder state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PRECISION = 24
TOTAL = 1 << PRECISION
TABLE_FUNCTION = "exp2poly-fixed38-v1"  # names this module's table function in the container
CODER = "constriction-range-u32-p24"
_FIXED_SHIFT = 38  # softmax numerators as integers scaled by 2**38 (times 2**24 fits in int64)
_MIN_EXPONENT = -40.0  # log2 of the smallest relative probability kept before quantization
_LOG2E = 1.4426950408889634
# Taylor coefficients of 2**f = exp(f ln 2) on [0, 1), degree 9 (relative error < 1e-9)
_POLY = tuple(0.6931471805599453**k / float(np.prod(np.arange(1, k + 1))) for k in range(10))


class CodingError(ValueError):
    """A bitstream that cannot be decoded under the given tables (damaged or mismatched)."""


def _exp2_fraction(f: np.ndarray) -> np.ndarray:
    """2**f for f in [0, 1) by Horner's rule, one rounded operation at a time (no fused multiply-add)."""
    out = np.full_like(f, _POLY[-1])
    for c in _POLY[-2::-1]:
        np.multiply(out, f, out=out)
        np.add(out, c, out=out)
    return out


def probability_table(logits: np.ndarray) -> np.ndarray:
    """Integer frequencies ``(rows, n)`` int64 from float32 logits ``(rows, n)``: each >= 1, rows sum to 2**24.

    softmax in float64 (a fixed polynomial for exp2), numerators floored to integers (x 2**38), shares of
    ``2**24 - n`` by integer division, the remainder to the first most probable symbol, then +1 each.
    """
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (rows, n >= 2), got {logits.shape}")
    if logits.dtype != np.float32:
        raise TypeError(f"logits must be float32 (what the model computes), got {logits.dtype}")
    n = logits.shape[1]
    if n >= TOTAL // 2:
        raise ValueError(f"{n} symbols do not fit a {PRECISION}-bit table")
    x = logits.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("logits hold NaN or infinity")
    y = x - x.max(axis=1, keepdims=True)
    np.multiply(y, _LOG2E, out=y)
    np.maximum(y, _MIN_EXPONENT, out=y)
    k = np.floor(y)
    np.subtract(y, k, out=y)
    # exact scaling by 2**(k + 38) of 2**f in [1, 2): the maximum is exactly 2**38
    e = np.ldexp(_exp2_fraction(y), k.astype(np.int32) + _FIXED_SHIFT)
    fixed = np.floor(e, out=e).astype(np.int64)
    free = TOTAL - n
    weights = (fixed * free) // fixed.sum(axis=1, keepdims=True)
    leftover = free - weights.sum(axis=1)
    weights[np.arange(weights.shape[0]), np.argmax(fixed, axis=1)] += leftover
    return weights + 1


def information_bits(tables: np.ndarray, symbols: np.ndarray) -> float:
    """Sum of -log2 of the coded symbols' probabilities under integer tables (the coded size, to a word)."""
    tables = np.asarray(tables)
    picked = tables[np.arange(tables.shape[0]), np.asarray(symbols, dtype=np.int64)]
    return float(PRECISION * picked.size - np.log2(picked.astype(np.float64)).sum())


def _weights(tables: np.ndarray) -> np.ndarray:
    """Floating-point weights that constriction's fast quantizer turns back into ``tables`` exactly."""
    tables = np.asarray(tables)
    if tables.ndim != 2:
        raise ValueError(f"tables must have shape (rows, n), got {tables.shape}")
    return (tables - 1).astype(np.float64)


def _family() -> Any:
    """constriction's categorical model family (imported lazily)."""
    import constriction

    return constriction.stream.model.Categorical(perfect=False)


class RangeEncoder:
    """Symbols in, 32-bit words out: constriction's range encoder under integer tables."""

    def __init__(self) -> None:
        import constriction

        self._coder = constriction.stream.queue.RangeEncoder()
        self._family = _family()
        self.symbols = 0

    def encode(self, symbols: np.ndarray, tables: np.ndarray) -> None:
        """Append ``symbols`` (one per table row, in order)."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if symbols.ndim != 1 or symbols.shape[0] != np.shape(tables)[0]:
            raise ValueError(f"{symbols.shape} symbols for tables of shape {np.shape(tables)}")
        if symbols.size:
            self._coder.encode(symbols, self._family, _weights(tables))
            self.symbols += symbols.size

    def finish(self) -> bytes:
        """The compressed words, little-endian."""
        return self._coder.get_compressed().astype("<u4").tobytes()


class RangeDecoder:
    """Words in, symbols out: the exact inverse of :class:`RangeEncoder` under the same tables."""

    def __init__(self, data: bytes) -> None:
        import constriction

        if len(data) % 4:
            raise CodingError(f"a range-coded stream is whole 32-bit words, not {len(data)} bytes")
        self._coder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))
        self._family = _family()

    def decode(self, tables: np.ndarray) -> np.ndarray:
        """One symbol per table row."""
        weights = _weights(tables)
        if not weights.shape[0]:
            return np.zeros(0, dtype=np.int32)
        try:
            return np.asarray(self._coder.decode(self._family, weights), dtype=np.int32)
        except (ValueError, RuntimeError, AssertionError) as err:
            raise CodingError(f"invalid range-coded data ({err})") from err


def encode_symbols(symbols: np.ndarray, tables: np.ndarray) -> bytes:
    """Range-code a whole run of symbols at once."""
    encoder = RangeEncoder()
    encoder.encode(symbols, tables)
    return encoder.finish()


def decode_symbols(data: bytes, tables: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`encode_symbols`."""
    return RangeDecoder(data).decode(tables)
