"""The kernels' integer lookup tables, computed with correctly rounded decimal arithmetic.

``decimal`` rounds ``exp`` correctly (to its context's precision) on every platform, so these tables
are the same integers everywhere; their SHA-256 is part of every model's identity and checked at import.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache

import numpy as np

SIGMOID_BITS = 22  # logistic CDF values in units of 2**-22
SIGMOID_STEP_BITS = 6  # table knots every 1/64
SIGMOID_RANGE = 16  # knots cover [-16, 16]
EXP2_BITS = 16  # 2**f for f in [0, 1) in units of 2**-16
EXP2_KNOTS = 1024
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN)


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN, context=_CONTEXT))


@lru_cache(maxsize=1)
def sigmoid_table() -> np.ndarray:
    """round(2**22 / (1 + exp(-t))) at t = k/64, k = -1024..1024 (2049 knots, non-decreasing)."""
    one = Decimal(1)
    scale = Decimal(1 << SIGMOID_BITS)
    knots = SIGMOID_RANGE << SIGMOID_STEP_BITS
    out = []
    for k in range(-knots, knots + 1):
        t = _CONTEXT.divide(Decimal(k), Decimal(1 << SIGMOID_STEP_BITS))
        out.append(_round(_CONTEXT.divide(scale, one + _CONTEXT.exp(-t))))
    table = np.array(out, dtype=np.int64)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=1)
def exp2_table() -> np.ndarray:
    """round(2**16 * 2**(k/1024)) for k = 0..1024."""
    ln2 = _CONTEXT.ln(Decimal(2))
    out = [
        _round(_CONTEXT.multiply(Decimal(1 << EXP2_BITS), _CONTEXT.exp(ln2 * Decimal(k) / Decimal(EXP2_KNOTS))))
        for k in range(EXP2_KNOTS + 1)
    ]
    table = np.array(out, dtype=np.int64)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=1)
def tables_digest() -> str:
    """First 16 hex digits of the SHA-256 of both tables (named in every file)."""
    h = hashlib.sha256()
    h.update(sigmoid_table().astype("<i8").tobytes())
    h.update(exp2_table().astype("<i8").tobytes())
    return h.hexdigest()[:16]
