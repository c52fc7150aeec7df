"""FLAC's partitioned Rice coder for integer residuals: exact bit counts, a real bit writer and reader.

The bitstream of one *residual section* is FLAC's "coded residual" (RFC 9639, section 9.2.7), bit for
bit, most significant bit first:

- 2 bits coding method: ``00`` = RICE (4-bit Rice parameters), ``01`` = RICE2 (5-bit parameters);
- 4 bits partition order ``o``: the block splits into ``2**o`` partitions of ``block_size >> o`` samples,
  and the first partition holds ``predictor_order`` fewer (the warm-up samples are not residuals);
- per partition, a 4- or 5-bit Rice parameter ``k``. All ones (15 or 31) is the escape code: a 5-bit
  width ``w`` follows, then every residual of the partition as a ``w``-bit two's complement integer
  (``w = 0``: all residuals are zero and no bits follow). Otherwise each residual ``x`` is folded,
  ``u = 2x`` for ``x >= 0`` and ``u = -2x - 1`` otherwise, and written as ``u >> k`` zero bits, a one
  bit, and the low ``k`` bits of ``u``.

Rules on the partition order, as in FLAC: ``block_size`` must be divisible by ``2**o`` and ``o <= 15``,
and for ``o > 0`` the first partition must hold the warm-up: libFLAC's encoder keeps ``block_size >> o``
strictly larger than the predictor order, while its decoder also accepts equality (an empty first
partition). The search here follows the encoder; :func:`plan_bits` and :func:`decode` follow the
decoder. ``block_size`` is ``len(residual) + predictor_order``; with predictor order 0 (residuals with
no warm-up, as from a neural codec) the partitions are simply equal.

The encoder is exact, not estimated: for every allowed partition order and every partition, the Rice
parameter is the one minimizing the partition's true bit count (all parameters are tried, from sums
of ``u >> k`` kept per partition), an escape replaces it when strictly cheaper, and the order (and,
with ``param_bits=None``, the coding method) with the fewest total bits wins; ties go to the lower
order, RICE before RICE2 and the smaller parameter. Residuals must fit in 32-bit two's complement,
as in FLAC. Hot loops are compiled with numba (``cache=True``).

Beyond one section, :func:`encode_blocks` codes a long signal as consecutive sections of
``block_size`` samples (the last one shorter), each with its own optimal partition order, predictor
order 0, packed back to back with no alignment; the decoder needs only the signal length and the
block size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

MAX_PARTITION_ORDER = 15
DEFAULT_MAX_PARTITION_ORDER = 8
DEFAULT_BLOCK_SIZE = 4096
PARAM_BITS = (4, 5)
_NK = 31  # Rice parameters tried: 0..30 (RICE2's largest; RICE stops at 14)
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1

_ERRORS = {
    -1: "the data ends before the residuals do (truncated or corrupt stream)",
    -2: "reserved residual coding method (only 0 = RICE and 1 = RICE2 exist)",
    -3: "partition order does not fit the block (block size not divisible, or first partition too short)",
}


class RiceError(ValueError):
    """A residual section could not be decoded, or a given plan cannot code the residuals."""


@dataclass(frozen=True)
class RicePlan:
    """How one residual section is coded, and its exact size in bits (header included).

    ``parameters[p]`` is partition ``p``'s Rice parameter; the escape code (``2**param_bits - 1``)
    marks an escaped partition whose raw sample width is ``raw_bits[p]`` (``raw_bits`` is 0 elsewhere).
    """

    param_bits: int
    partition_order: int
    parameters: np.ndarray
    raw_bits: np.ndarray
    bits: int

    @property
    def escape_code(self) -> int:
        return (1 << self.param_bits) - 1

    @property
    def escaped(self) -> np.ndarray:
        """Boolean mask of escaped partitions."""
        return self.parameters == self.escape_code


# --------------------------------------------------------------------------------------------- numba


@njit(cache=True)
def _bit_length(v: int) -> int:
    n = 0
    while v > 0:
        v >>= 1
        n += 1
    return n


@njit(cache=True)
def _fold_array(x: np.ndarray) -> np.ndarray:
    u = np.empty(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        v = np.int64(x[i])
        u[i] = 2 * v if v >= 0 else -2 * v - 1
    return u


@njit(cache=True)
def _max_order(block_size: int, predictor_order: int, limit: int) -> int:
    """Largest order <= limit that divides the block with a first partition longer than the warm-up."""
    m = 0
    while m < limit:
        o = m + 1
        if block_size % (1 << o) != 0 or (block_size >> o) <= predictor_order:
            break
        m = o
    return m


@njit(cache=True)
def _plan_section(u, start, n, pred, max_order, mode, out_params, out_raw):
    """Optimal plan for residuals u[start:start+n]; returns (bits, param_bits, order).

    ``mode`` is 4 (RICE), 5 (RICE2) or 0 (whichever is smaller). Writes the chosen per-partition
    parameters and raw widths into out_params[:2**order] and out_raw[:2**order].
    """
    bs = n + pred
    m = _max_order(bs, pred, max_order)
    nparts = 1 << m
    psize = bs >> m
    sums = np.zeros((nparts, _NK), dtype=np.int64)
    cnt = np.zeros(nparts, dtype=np.int64)
    mx = np.zeros(nparts, dtype=np.int64)
    i = start
    for p in range(nparts):
        c = psize - pred if p == 0 else psize
        cnt[p] = c
        hi = np.int64(0)
        for j in range(i, i + c):
            hi = max(hi, u[j])
        mx[p] = hi
        for k in range(min(_bit_length(hi), _NK)):  # u >> k == 0 for all u once k >= bit length
            s = np.int64(0)
            for j in range(i, i + c):
                s += u[j] >> k
            sums[p, k] = s
        i += c

    best_bits = np.int64(-1)
    best_pb = 0
    best_order = 0
    par4 = np.empty(nparts, dtype=np.int64)
    par5 = np.empty(nparts, dtype=np.int64)
    raw = np.empty(nparts, dtype=np.int64)
    for o in range(m, -1, -1):
        np_o = 1 << o
        tot4 = np.int64(6)
        tot5 = np.int64(6)
        for p in range(np_o):
            c = cnt[p]
            b4 = np.int64(-1)
            k4 = 0
            b5 = np.int64(-1)
            k5 = 0
            for k in range(_NK):
                cost = sums[p, k] + c * (k + 1)
                if k < 15 and (b4 < 0 or cost < b4):
                    b4 = cost
                    k4 = k
                if b5 < 0 or cost < b5:
                    b5 = cost
                    k5 = k
            w = _bit_length(mx[p])
            raw[p] = 0
            if w <= 31:
                esc = 5 + w * c
                if esc < b4:
                    b4 = esc
                    k4 = 15
                    raw[p] = w
                if esc < b5:
                    b5 = esc
                    k5 = 31
                    raw[p] = w
            par4[p] = k4
            par5[p] = k5
            tot4 += 4 + b4
            tot5 += 5 + b5
        if mode != 5 and (best_bits < 0 or tot4 < best_bits):
            best_bits = tot4
            best_pb = 4
            best_order = o
            for p in range(np_o):
                out_params[p] = par4[p]
                out_raw[p] = raw[p] if par4[p] == 15 else 0
        if mode != 4 and (best_bits < 0 or tot5 < best_bits):
            best_bits = tot5
            best_pb = 5
            best_order = o
            for p in range(np_o):
                out_params[p] = par5[p]
                out_raw[p] = raw[p] if par5[p] == 31 else 0
        if o > 0:  # merge pairs of partitions: order o -> o - 1
            for p in range(np_o >> 1):
                for k in range(_NK):
                    sums[p, k] = sums[2 * p, k] + sums[2 * p + 1, k]
                cnt[p] = cnt[2 * p] + cnt[2 * p + 1]
                mx[p] = max(mx[2 * p], mx[2 * p + 1])
    return best_bits, best_pb, best_order


@njit(cache=True)
def _section_bits(u, start, n, pred, param_bits, order, params, raw):
    """Exact bits of a section under a given plan, or a negative code for an invalid plan.

    -3: bad partition order; -4: parameter out of range; -5: escape width out of range;
    -6 - p: partition p's residuals do not fit its escape width.
    """
    bs = n + pred
    nparts = 1 << order
    if order > 15 or bs % nparts != 0 or (bs >> order) < pred:
        return np.int64(-3)
    esc_code = (1 << param_bits) - 1
    psize = bs >> order
    total = np.int64(6)
    i = start
    for p in range(nparts):
        c = psize - pred if p == 0 else psize
        k = params[p]
        total += param_bits
        if k < 0 or k > esc_code:
            return np.int64(-4)
        if k == esc_code:
            w = raw[p]
            if w < 0 or w > 31:
                return np.int64(-5)
            for _ in range(c):
                if u[i] >> w != 0:
                    return np.int64(-6 - p)
                i += 1
            total += 5 + w * c
        else:
            s = np.int64(0)
            for _ in range(c):
                s += u[i] >> k
                i += 1
            total += s + c * (k + 1)
    return total


@njit(cache=True)
def _put(buf, pos, v, n):
    """OR the n (<= 32) low bits of v into the zeroed buffer at bit position pos; returns pos + n."""
    if n == 0:
        return pos
    off = pos & 7
    total = off + n
    w = np.int64(v) << (40 - total)
    b = pos >> 3
    buf[b] |= (w >> 32) & 0xFF
    if total > 8:
        buf[b + 1] |= (w >> 24) & 0xFF
    if total > 16:
        buf[b + 2] |= (w >> 16) & 0xFF
    if total > 24:
        buf[b + 3] |= (w >> 8) & 0xFF
    if total > 32:
        buf[b + 4] |= w & 0xFF
    return pos + n


@njit(cache=True)
def _write_section(buf, pos, x, u, start, n, pred, param_bits, order, params, raw):
    """Write one residual section at bit position pos; returns the position after it."""
    pos = _put(buf, pos, 0 if param_bits == 4 else 1, 2)
    pos = _put(buf, pos, order, 4)
    esc_code = (1 << param_bits) - 1
    psize = (n + pred) >> order
    i = start
    for p in range(1 << order):
        c = psize - pred if p == 0 else psize
        k = params[p]
        pos = _put(buf, pos, k, param_bits)
        if k == esc_code:
            w = raw[p]
            pos = _put(buf, pos, w, 5)
            if w > 0:
                mask = (np.int64(1) << w) - 1
                for _ in range(c):
                    pos = _put(buf, pos, np.int64(x[i]) & mask, w)
                    i += 1
            else:
                i += c
        else:
            one = np.int64(1) << k
            mask = one - 1
            for _ in range(c):
                v = u[i]
                i += 1
                pos += v >> k  # the zeros of the unary quotient: the buffer is already zero
                pos = _put(buf, pos, one | (v & mask), k + 1)
    return pos


@njit(cache=True)
def _clz8_table():
    t = np.zeros(256, dtype=np.int64)
    for b in range(256):
        z = 8
        v = b
        while v > 0:
            v >>= 1
            z -= 1
        t[b] = z
    return t


@njit(cache=True)
def _get(buf, pos, n):
    """Read n (<= 32) bits at pos from a buffer padded with at least 5 zero bytes."""
    if n == 0:
        return np.int64(0)
    b = pos >> 3
    w = (
        (np.int64(buf[b]) << 32)
        | (np.int64(buf[b + 1]) << 24)
        | (np.int64(buf[b + 2]) << 16)
        | (np.int64(buf[b + 3]) << 8)
        | np.int64(buf[b + 4])
    )
    return (w >> (40 - (pos & 7) - n)) & ((np.int64(1) << n) - 1)


@njit(cache=True)
def _read_section(buf, limit, pos, out, start, n, pred, clz8):
    """Decode one section at bit pos into out[start:start+n]; returns the new pos or a negative code."""
    if pos + 6 > limit:
        return np.int64(-1)
    method = _get(buf, pos, 2)
    if method > 1:
        return np.int64(-2)
    param_bits = 4 if method == 0 else 5
    order = _get(buf, pos + 2, 4)
    pos += 6
    bs = n + pred
    nparts = np.int64(1) << order
    if bs % nparts != 0 or (bs >> order) < pred:
        return np.int64(-3)
    esc_code = (1 << param_bits) - 1
    psize = bs >> order
    i = start
    for p in range(nparts):
        c = psize - pred if p == 0 else psize
        if pos + param_bits > limit:
            return np.int64(-1)
        k = _get(buf, pos, param_bits)
        pos += param_bits
        if k == esc_code:
            if pos + 5 > limit:
                return np.int64(-1)
            w = _get(buf, pos, 5)
            pos += 5
            if pos + w * c > limit:
                return np.int64(-1)
            if w == 0:
                for _ in range(c):
                    out[i] = 0
                    i += 1
            else:
                sign = np.int64(1) << (w - 1)
                for _ in range(c):
                    v = _get(buf, pos, w)
                    pos += w
                    out[i] = (v ^ sign) - sign
                    i += 1
        else:
            for _ in range(c):
                q = np.int64(0)
                while True:
                    if pos >= limit:
                        return np.int64(-1)
                    off = pos & 7
                    byte = buf[pos >> 3] & (0xFF >> off)
                    if byte == 0:
                        q += 8 - off
                        pos += 8 - off
                    else:
                        z = clz8[byte] - off
                        q += z
                        pos += z + 1
                        break
                if pos + k > limit:
                    return np.int64(-1)
                v = (q << k) | _get(buf, pos, k)
                pos += k
                out[i] = (v >> 1) ^ -(v & 1)
                i += 1
    if pos > limit:
        return np.int64(-1)
    return pos


@njit(cache=True)
def _plan_blocks(u, block_size, max_order, mode, orders, pbits, params, raw, bits):
    n = u.shape[0]
    nblocks = orders.shape[0]
    total = np.int64(0)
    for b in range(nblocks):
        start = b * block_size
        length = min(block_size, n - start)
        res = _plan_section(u, start, length, 0, max_order, mode, params[b], raw[b])
        bits[b] = res[0]
        pbits[b] = res[1]
        orders[b] = res[2]
        total += res[0]
    return total


@njit(cache=True)
def _write_blocks(buf, x, u, block_size, orders, pbits, params, raw):
    n = u.shape[0]
    pos = np.int64(0)
    for b in range(orders.shape[0]):
        start = b * block_size
        length = min(block_size, n - start)
        pos = _write_section(buf, pos, x, u, start, length, 0, pbits[b], orders[b], params[b], raw[b])
    return pos


@njit(cache=True)
def _read_blocks(buf, limit, out, block_size, clz8):
    n = out.shape[0]
    pos = np.int64(0)
    start = 0
    while start < n:
        length = min(block_size, n - start)
        pos = _read_section(buf, limit, pos, out, start, length, 0, clz8)
        if pos < 0:
            return pos
        start += length
    return pos


# ------------------------------------------------------------------------------------------ python


def _as_residual(residual: np.ndarray) -> np.ndarray:
    x = np.asarray(residual)
    if x.ndim != 1:
        raise ValueError(f"residuals must be a 1-D array, got shape {x.shape}")
    if x.dtype.kind != "i":
        raise TypeError(f"residuals must be a signed integer array (int32/int64), got {x.dtype}")
    if x.dtype.itemsize > 4 and x.size and (x.min() < _INT32_MIN or x.max() > _INT32_MAX):
        raise ValueError("residuals must fit in 32-bit two's complement, as in FLAC")
    return np.ascontiguousarray(x, dtype=np.int64)


def _check_options(predictor_order: int, max_partition_order: int, param_bits: int | None) -> int:
    if predictor_order < 0:
        raise ValueError(f"predictor order must be >= 0, not {predictor_order}")
    if not 0 <= max_partition_order <= MAX_PARTITION_ORDER:
        raise ValueError(f"max partition order must be 0..{MAX_PARTITION_ORDER}, not {max_partition_order}")
    if param_bits is None:
        return 0
    if param_bits not in PARAM_BITS:
        raise ValueError(f"param_bits must be 4 (RICE), 5 (RICE2) or None (the smaller), not {param_bits}")
    return param_bits


def fold(residual: np.ndarray) -> np.ndarray:
    """FLAC's folding of signed residuals onto unsigned ones: 2x for x >= 0, -2x - 1 otherwise."""
    return _fold_array(_as_residual(residual))


def unfold(folded: np.ndarray) -> np.ndarray:
    """Inverse of :func:`fold`."""
    u = np.asarray(folded, dtype=np.int64)
    return (u >> 1) ^ -(u & 1)


def plan(
    residual: np.ndarray,
    predictor_order: int = 0,
    max_partition_order: int = DEFAULT_MAX_PARTITION_ORDER,
    param_bits: int | None = None,
) -> RicePlan:
    """The cheapest FLAC residual section for these residuals (exact search, see the module notes)."""
    mode = _check_options(predictor_order, max_partition_order, param_bits)
    x = _as_residual(residual)
    u = _fold_array(x)
    params = np.zeros(1 << max_partition_order, dtype=np.int64)
    raw = np.zeros(1 << max_partition_order, dtype=np.int64)
    bits, pb, order = _plan_section(u, 0, x.size, predictor_order, max_partition_order, mode, params, raw)
    parts = 1 << order
    return RicePlan(int(pb), int(order), params[:parts].copy(), raw[:parts].copy(), int(bits))


def bit_count(
    residual: np.ndarray,
    predictor_order: int = 0,
    max_partition_order: int = DEFAULT_MAX_PARTITION_ORDER,
    param_bits: int | None = None,
) -> int:
    """Exact size in bits of :func:`encode`'s residual section (before padding to whole bytes)."""
    return plan(residual, predictor_order, max_partition_order, param_bits).bits


def plan_bits(
    residual: np.ndarray,
    partition_order: int,
    parameters: np.ndarray,
    raw_bits: np.ndarray | None = None,
    predictor_order: int = 0,
    param_bits: int = 4,
) -> int:
    """Exact bits of the residual section with a GIVEN partition order, parameters and escape widths.

    This is the size FLAC's residual section takes in a frame (2-bit method, 4-bit order, partitions),
    for checking against parsed FLAC frames. ``parameters[p] == 2**param_bits - 1`` escapes partition
    ``p`` with width ``raw_bits[p]``. Raises :class:`RiceError` if the plan cannot code the residuals.
    """
    if param_bits not in PARAM_BITS:
        raise ValueError(f"param_bits must be 4 (RICE) or 5 (RICE2), not {param_bits}")
    if predictor_order < 0:
        raise ValueError(f"predictor order must be >= 0, not {predictor_order}")
    if not 0 <= partition_order <= MAX_PARTITION_ORDER:
        raise RiceError(f"partition order must be 0..{MAX_PARTITION_ORDER}, not {partition_order}")
    x = _as_residual(residual)
    parts = 1 << partition_order
    params = np.ascontiguousarray(parameters, dtype=np.int64)
    raw = np.zeros(parts, dtype=np.int64) if raw_bits is None else np.ascontiguousarray(raw_bits, np.int64)
    if params.shape != (parts,) or raw.shape != (parts,):
        raise RiceError(f"partition order {partition_order} needs {parts} parameters and raw widths")
    bits = int(_section_bits(_fold_array(x), 0, x.size, predictor_order, param_bits, partition_order,
                             params, raw))
    if bits >= 0:
        return bits
    if bits == -3:
        raise RiceError(
            f"partition order {partition_order} does not fit a block of {x.size + predictor_order} samples "
            f"with predictor order {predictor_order}"
        )
    if bits == -4:
        raise RiceError(f"Rice parameters must be 0..{(1 << param_bits) - 1} with {param_bits}-bit fields")
    if bits == -5:
        raise RiceError("escape widths must be 0..31")
    p = -6 - bits
    raise RiceError(f"partition {p}'s residuals do not fit its escape width of {int(raw[p])} bits")


def _write(x: np.ndarray, p: RicePlan, predictor_order: int) -> bytes:
    buf = np.zeros((p.bits + 7) // 8 + 8, dtype=np.uint8)
    end = _write_section(buf, 0, x, _fold_array(x), 0, x.size, predictor_order, p.param_bits,
                         p.partition_order, np.ascontiguousarray(p.parameters, np.int64),
                         np.ascontiguousarray(p.raw_bits, np.int64))
    if end != p.bits:
        raise AssertionError(f"writer produced {end} bits, planned {p.bits}")
    return buf[: (end + 7) // 8].tobytes()


def encode(
    residual: np.ndarray,
    predictor_order: int = 0,
    max_partition_order: int = DEFAULT_MAX_PARTITION_ORDER,
    param_bits: int | None = None,
    rice_plan: RicePlan | None = None,
) -> bytes:
    """One FLAC residual section, zero-padded to whole bytes; optimal unless ``rice_plan`` is given."""
    x = _as_residual(residual)
    if rice_plan is None:
        rice_plan = plan(x, predictor_order, max_partition_order, param_bits)
    else:
        bits = plan_bits(x, rice_plan.partition_order, rice_plan.parameters, rice_plan.raw_bits,
                         predictor_order, rice_plan.param_bits)
        if bits != rice_plan.bits:
            rice_plan = RicePlan(rice_plan.param_bits, rice_plan.partition_order, rice_plan.parameters,
                                 rice_plan.raw_bits, bits)
    return _write(x, rice_plan, predictor_order)


def _padded(data: bytes) -> tuple[np.ndarray, int]:
    raw = np.frombuffer(data, dtype=np.uint8)
    buf = np.zeros(raw.size + 8, dtype=np.uint8)
    buf[: raw.size] = raw
    return buf, 8 * raw.size


def read_section(
    data: bytes, n: int, predictor_order: int = 0, bit_offset: int = 0
) -> tuple[np.ndarray, int]:
    """Decode the residual section starting ``bit_offset`` bits into ``data`` (e.g. inside a FLAC frame).

    Returns the ``n`` residuals (int64) and the bit position just after the section.
    """
    if n < 0 or predictor_order < 0 or bit_offset < 0:
        raise ValueError("n, predictor order and bit offset must be >= 0")
    buf, limit = _padded(data)
    out = np.empty(n, dtype=np.int64)
    pos = _read_section(buf, limit, bit_offset, out, 0, n, predictor_order, _clz8_table())
    if pos < 0:
        raise RiceError(_ERRORS[int(pos)])
    return out, int(pos)


def decode(data: bytes, n: int, predictor_order: int = 0) -> np.ndarray:
    """The ``n`` residuals (int64) of the residual section at the start of ``data``."""
    return read_section(data, n, predictor_order)[0]


def _n_blocks(n: int, block_size: int) -> int:
    if block_size < 1:
        raise ValueError(f"block size must be >= 1, not {block_size}")
    return -(-n // block_size)


def _plan_all(
    x: np.ndarray, block_size: int, max_partition_order: int, param_bits: int | None
) -> tuple[np.ndarray, tuple[np.ndarray, ...], int]:
    mode = _check_options(0, max_partition_order, param_bits)
    nb = _n_blocks(x.size, block_size)
    u = _fold_array(x)
    orders = np.zeros(nb, dtype=np.int64)
    pbits = np.zeros(nb, dtype=np.int64)
    params = np.zeros((nb, 1 << max_partition_order), dtype=np.int64)
    raw = np.zeros((nb, 1 << max_partition_order), dtype=np.int64)
    bits = np.zeros(nb, dtype=np.int64)
    total = _plan_blocks(u, block_size, max_partition_order, mode, orders, pbits, params, raw, bits)
    return u, (orders, pbits, params, raw, bits), int(total)


def blocks_bit_count(
    signal: np.ndarray,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_partition_order: int = DEFAULT_MAX_PARTITION_ORDER,
    param_bits: int | None = None,
) -> int:
    """Exact bits of :func:`encode_blocks`'s stream before its final padding to whole bytes."""
    return _plan_all(_as_residual(signal), block_size, max_partition_order, param_bits)[2]


def block_plans(
    signal: np.ndarray,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_partition_order: int = DEFAULT_MAX_PARTITION_ORDER,
    param_bits: int | None = None,
) -> list[RicePlan]:
    """The plan :func:`encode_blocks` uses for each block, for inspection."""
    _, (orders, pbits, params, raw, bits), _ = _plan_all(
        _as_residual(signal), block_size, max_partition_order, param_bits
    )
    return [
        RicePlan(int(pbits[b]), int(orders[b]), params[b, : 1 << orders[b]].copy(),
                 raw[b, : 1 << orders[b]].copy(), int(bits[b]))
        for b in range(orders.size)
    ]


def encode_blocks(
    signal: np.ndarray,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_partition_order: int = DEFAULT_MAX_PARTITION_ORDER,
    param_bits: int | None = None,
) -> bytes:
    """A long residual signal as back-to-back sections of ``block_size`` samples, padded to bytes."""
    x = _as_residual(signal)
    u, (orders, pbits, params, raw, _), total = _plan_all(x, block_size, max_partition_order, param_bits)
    buf = np.zeros((total + 7) // 8 + 8, dtype=np.uint8)
    end = _write_blocks(buf, x, u, block_size, orders, pbits, params, raw)
    if end != total:
        raise AssertionError(f"writer produced {end} bits, planned {total}")
    return buf[: (end + 7) // 8].tobytes()


def decode_blocks(data: bytes, n: int, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """The ``n`` residuals (int64) of an :func:`encode_blocks` stream."""
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    _n_blocks(n, block_size)
    buf, limit = _padded(data)
    out = np.empty(n, dtype=np.int64)
    pos = _read_blocks(buf, limit, out, block_size, _clz8_table())
    if pos < 0:
        raise RiceError(_ERRORS[int(pos)])
    if limit - pos >= 8 or (pos < limit and buf[pos >> 3] & (0xFF >> (pos & 7))):
        raise RiceError("the data goes on after the last block (more than zero padding to a whole byte)")
    return out
