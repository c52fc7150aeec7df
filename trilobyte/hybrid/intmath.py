"""Integer helpers shared by the hybrid kernels (numba-compiled, exact on every machine)."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def bit_length(v: int) -> int:
    """Bits of ``v`` (0 for ``v <= 0``)."""
    n = 0
    while v > 0:
        v >>= 1
        n += 1
    return n


@njit(cache=True)
def clamp(v: int, lim: int) -> int:
    return lim if v > lim else (-lim if v < -lim else v)
