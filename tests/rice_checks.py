"""Checks of the partitioned Rice coder shared by its tests: a full round trip, and the optimum by brute force."""

from __future__ import annotations

import numpy as np

from baselines import rice
from baselines.rice import RicePlan


def check_round_trip(x: np.ndarray, predictor_order: int = 0, **options) -> RicePlan:
    """Encode and decode one section: exact samples, the planned size in bits and bytes, the plan re-counted."""
    p = rice.plan(x, predictor_order, **options)
    data = rice.encode(x, predictor_order, **options)
    assert len(data) == -(-p.bits // 8)
    decoded, end = rice.read_section(data, x.size, predictor_order)
    assert end == p.bits == rice.bit_count(x, predictor_order, **options)
    np.testing.assert_array_equal(decoded, x)
    assert rice.plan_bits(x, p.partition_order, p.parameters, p.raw_bits, predictor_order,
                          p.param_bits) == p.bits
    return p


def brute_force_bits(x: np.ndarray, pred: int, max_order: int, param_bits: int) -> int:
    """The fewest bits of any plan with ``param_bits``-bit parameters, in plain Python from FLAC's rules."""
    u = rice.fold(x).tolist()
    block = len(u) + pred
    best = None
    for order in range(max_order + 1):
        if block % (1 << order) or (order and (block >> order) <= pred):
            break
        size = block >> order
        bits, start = 6, 0
        for p in range(1 << order):
            part = u[start:start + size - (pred if p == 0 else 0)]
            start += len(part)
            costs = [sum(v >> k for v in part) + len(part) * (k + 1) for k in range((1 << param_bits) - 1)]
            width = max(part, default=0).bit_length()
            if width <= 31:
                costs.append(5 + width * len(part))
            bits += param_bits + min(costs)
        best = bits if best is None else min(best, bits)
    return best
