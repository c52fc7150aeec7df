"""The partitioned Rice coder: FLAC's bitstream bit for bit, exact sizes, exact optimal plans, round trips.

Efficiency is measured against the ideal code length of each synthetic sample under the true discrete
Laplacian, ``-sum log2 P(x_i)`` with ``P(x) = (1 - t) / (1 + t) * t**|x|``, ``t = exp(-1 / scale)``:
its expectation is that distribution's entropy, and on the same sample it moves with the Rice size,
so the comparison is not swamped by sampling noise.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from baselines import rice
from baselines.rice import RiceError, RicePlan
from tests.rice_checks import brute_force_bits, check_round_trip

N_LAPLACE = 1 << 16
BLOCK = 4096


def laplacian(scale: float, n: int = N_LAPLACE, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = 1.0 - np.exp(-1.0 / scale)
    return (rng.geometric(q, n) - rng.geometric(q, n)).astype(np.int32)


def ideal_bits(x: np.ndarray, scale: float) -> float:
    t = np.exp(-1.0 / scale)
    return float(-(x.size * np.log2((1 - t) / (1 + t)) + np.abs(x).sum() * np.log2(t)))


def empirical_entropy_bits(x: np.ndarray) -> float:
    _, counts = np.unique(rice.fold(x), return_counts=True)
    p = counts / x.size
    return float(-(counts * np.log2(p)).sum())


def single_parameter_bits(x: np.ndarray, block: int) -> int:
    """Bits of the best ONE global Rice parameter, each block a one-partition RICE2 section."""
    u = rice.fold(x)
    blocks = -(-x.size // block)
    return min(int((u >> k).sum()) + x.size * (k + 1) for k in range(31)) + blocks * (6 + 5)


# ------------------------------------------------------------------------------ format, by hand


def test_fold_is_flacs():
    x = np.array([0, -1, 1, -2, 2, 2**31 - 1, -(2**31)], dtype=np.int64)
    np.testing.assert_array_equal(rice.fold(x), [0, 1, 2, 3, 4, 2**32 - 2, 2**32 - 1])
    np.testing.assert_array_equal(rice.unfold(rice.fold(x)), x)


def test_rice_bitstream_by_hand():
    # RICE, order 0, k = 1; folded 0, 2, 1, 4 -> "10" "010" "11" "0010" after "00" "0000" "0001".
    x = np.array([0, 1, -1, 2], dtype=np.int32)
    given = RicePlan(4, 0, np.array([1]), np.array([0]), 0)
    assert rice.plan_bits(x, 0, [1], param_bits=4) == 21
    assert rice.encode(x, rice_plan=given) == bytes([0b00000000, 0b01100101, 0b10010000])
    np.testing.assert_array_equal(rice.decode(bytes([0x00, 0x65, 0x90]), 4), x)


def test_escape_bitstream_by_hand():
    # RICE, order 0, escape "1111", width "00100", then 3 and -4 as 4-bit two's complement.
    x = np.array([3, -4], dtype=np.int32)
    given = RicePlan(4, 0, np.array([15]), np.array([4]), 0)
    assert rice.plan_bits(x, 0, [15], [4], param_bits=4) == 23
    assert rice.encode(x, rice_plan=given) == bytes([0b00000011, 0b11001000, 0b01111000])
    # RICE2: method "01", order "0000", escape "11111", width "00100", "0011", "1100".
    assert rice.encode(x, rice_plan=RicePlan(5, 0, np.array([31]), np.array([4]), 0)) == bytes(
        [0b01000011, 0b11100100, 0b00111100])
    np.testing.assert_array_equal(rice.decode(bytes([0x03, 0xC8, 0x78]), 2), x)


def test_given_plan_with_predictor_order_counts_flac_partitions():
    # Block of 16 with a 2-sample warm-up: order 2 gives partitions of 2, 4, 4, 4 residuals.
    x = laplacian(3.0, 14, seed=1)
    u = rice.fold(x)
    params = np.array([0, 2, 1, 3])
    sizes = [2, 4, 4, 4]
    starts = np.cumsum([0, *sizes[:-1]])
    expected = 6 + sum(4 + int((u[s:s + c] >> k).sum()) + c * (k + 1)
                       for s, c, k in zip(starts, sizes, params, strict=True))
    assert rice.plan_bits(x, 2, params, predictor_order=2) == expected
    data = rice.encode(x, 2, rice_plan=RicePlan(4, 2, params, np.zeros(4, np.int64), 0))
    np.testing.assert_array_equal(rice.decode(data, 14, predictor_order=2), x)


def test_read_section_at_a_bit_offset():
    x = laplacian(20.0, 64, seed=2)
    data = rice.encode(x)
    shifted = (int.from_bytes(data, "big") << 5).to_bytes(len(data) + 1, "big")  # 3 bits of prefix
    shifted = bytes([shifted[0] | 0b10100000]) + shifted[1:]
    decoded, end = rice.read_section(shifted, x.size, bit_offset=3)
    np.testing.assert_array_equal(decoded, x)
    assert end == 3 + rice.bit_count(x)


def test_invalid_given_plans_are_refused():
    x = np.array([3, -4, 0, 1], dtype=np.int32)
    with pytest.raises(RiceError, match="escape width"):
        rice.plan_bits(x, 0, [15], [2])  # -4 needs 3 bits
    with pytest.raises(RiceError, match="Rice parameters"):
        rice.plan_bits(x, 0, [16])
    with pytest.raises(RiceError, match="needs 2 parameters"):
        rice.plan_bits(x, 1, [1])
    with pytest.raises(RiceError, match="does not fit"):
        rice.plan_bits(x[:3], 1, [1, 1])  # 3 samples cannot split in two
    with pytest.raises(RiceError, match="does not fit"):
        rice.plan_bits(x, 1, [1, 1], predictor_order=3)  # first partition would hold -1
    assert rice.plan_bits(x[:2], 1, [1, 1], predictor_order=2) > 0  # an empty first partition decodes


# ---------------------------------------------------------------------------- exact optimality


@pytest.mark.parametrize("seed", range(6))
def test_plan_is_the_exact_optimum(seed):
    rng = np.random.default_rng(seed)
    pred = int(rng.integers(0, 5))
    scales = rng.choice([0.3, 2.0, 40.0, 3000.0], size=8)
    x = np.concatenate([laplacian(s, 16, seed=seed * 10 + i) for i, s in enumerate(scales)])
    x = x[pred:]  # block of 128 samples, warm-up of pred
    for param_bits in (4, 5):
        expected = brute_force_bits(x, pred, 6, param_bits)
        assert rice.plan(x, pred, 6, param_bits).bits == expected
    assert rice.plan(x, pred, 6).bits == min(brute_force_bits(x, pred, 6, 4), brute_force_bits(x, pred, 6, 5))
    check_round_trip(x, pred, max_partition_order=6)


def test_partition_order_search_follows_the_signal():
    x = np.concatenate([laplacian(1.0, 2048, seed=3), laplacian(5000.0, 2048, seed=4)])
    p = check_round_trip(x)
    assert p.partition_order >= 1
    assert p.bits < rice.plan(x, max_partition_order=0).bits
    half = len(p.parameters) // 2
    assert p.parameters[:half].max() < p.parameters[half:].min()


# ------------------------------------------------------------------------- Laplacian efficiency


@pytest.mark.parametrize("scale", [8, 16, 64, 256])
def test_laplacian_within_two_percent_of_ideal(scale, record_property):
    x = laplacian(scale)
    bits = rice.blocks_bit_count(x, BLOCK)
    data = rice.encode_blocks(x, BLOCK)
    assert len(data) == -(-bits // 8)
    np.testing.assert_array_equal(rice.decode_blocks(data, x.size, BLOCK), x)
    assert sum(p.bits for p in rice.block_plans(x, BLOCK)) == bits
    gap = bits / ideal_bits(x, scale) - 1
    record_property("gap_vs_ideal", gap)
    record_property("gap_vs_empirical_entropy", bits / empirical_entropy_bits(x) - 1)
    print(f"scale {scale}: {bits / x.size:.4f} bits/sample, gap to ideal {100 * gap:.2f}%")
    assert 0 < gap < 0.02
    assert bits <= single_parameter_bits(x, BLOCK)


# Measured at seed 0 (gap to the ideal): 20.95%, 4.06%, 3.75%, 2.38%. A Rice code spends at least
# one bit per sample, which costs most when the entropy is about one bit; the bounds below are loose.
SMALL_SCALE_BOUNDS = {0.5: 0.25, 1: 0.05, 2: 0.05, 4: 0.03}


@pytest.mark.parametrize("scale", sorted(SMALL_SCALE_BOUNDS))
def test_laplacian_small_scales(scale, record_property):
    x = laplacian(scale)
    bits = rice.blocks_bit_count(x, BLOCK)
    np.testing.assert_array_equal(rice.decode_blocks(rice.encode_blocks(x, BLOCK), x.size, BLOCK), x)
    gap = bits / ideal_bits(x, scale) - 1
    record_property("gap_vs_ideal", gap)
    print(f"scale {scale}: {bits / x.size:.4f} bits/sample, gap to ideal {100 * gap:.2f}%")
    assert 0 < gap < SMALL_SCALE_BOUNDS[scale]
    assert bits <= single_parameter_bits(x, BLOCK)


# ------------------------------------------------------------------------------------- escapes


@pytest.mark.parametrize("param_bits", [4, 5])
def test_uniform_noise_is_escaped(param_bits):
    x = np.random.default_rng(5).integers(-(2**15), 2**15, BLOCK).astype(np.int32)
    p = check_round_trip(x, param_bits=param_bits)
    assert p.partition_order == 0
    assert p.escaped.all() and p.raw_bits.tolist() == [16]
    assert p.bits == 6 + param_bits + 5 + 16 * BLOCK


def test_all_zero_block_is_an_escape_of_width_zero():
    x = np.zeros(BLOCK, dtype=np.int32)
    p = check_round_trip(x)
    assert (p.param_bits, p.partition_order, p.parameters.tolist(), p.raw_bits.tolist()) == (4, 0, [15], [0])
    assert p.bits == 6 + 4 + 5
    assert rice.blocks_bit_count(np.zeros(3 * BLOCK, np.int64), BLOCK) == 3 * 15


def test_escapes_mix_with_rice_partitions():
    parts = [np.zeros(512, np.int32), laplacian(30.0, 512, seed=6),
             np.random.default_rng(7).integers(-(2**20), 2**20, 512).astype(np.int32), laplacian(2.0, 512)]
    x = np.concatenate(parts * 2)
    p = check_round_trip(x, max_partition_order=3)
    assert p.partition_order == 3
    assert p.escaped.tolist() == [True, False, True, False] * 2
    assert p.raw_bits.tolist() == [0, 0, 21, 0] * 2


# ---------------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("value", [0, 1, -1, 12345, -(2**31), 2**31 - 1])
@pytest.mark.parametrize("param_bits", [4, 5, None])
def test_length_one_blocks(value, param_bits):
    x = np.array([value], dtype=np.int64)
    p = check_round_trip(x, param_bits=param_bits)
    assert p.partition_order == 0
    data = rice.encode_blocks(np.full(5, value, np.int64), 1, param_bits=param_bits)
    np.testing.assert_array_equal(rice.decode_blocks(data, 5, 1), np.full(5, value))


def test_values_near_int32_limits():
    rng = np.random.default_rng(8)
    x = rng.integers(-(2**31), 2**31, 1024, dtype=np.int64)
    x[:4] = [2**31 - 1, -(2**31), 2**31 - 2, -(2**31) + 1]
    p = check_round_trip(x.astype(np.int32))
    assert p.param_bits == 5 and not p.escaped[0]  # 32-bit values cannot be escaped (width <= 31)
    p4 = check_round_trip(x[:16], param_bits=4, max_partition_order=0)  # k <= 14: long unary codes
    assert p4.parameters.tolist() == [14]
    assert p4.bits > 16 * 2**17
    y = rng.integers(-(2**30), 2**30, 1024)
    assert check_round_trip(y).escaped.all()


def test_negative_values_and_warm_up():
    x = -np.abs(laplacian(100.0, 4093, seed=9)) - 1
    p = check_round_trip(x, predictor_order=3)
    assert p.partition_order <= 8
    assert (4096 >> p.partition_order) > 3


def test_orders_are_limited_by_block_shape():
    assert rice.plan(laplacian(5.0, 4095, seed=10)).partition_order == 0  # odd block
    x = laplacian(5.0, 24, seed=11)  # 24 = 8 * 3: orders 0..3 only
    assert rice.plan(x, max_partition_order=15).partition_order <= 3
    # block 32 with warm-up 4: 32 >> 3 == 4 is not larger than 4, so order 2 at most
    assert rice.plan(np.zeros(28, np.int32), 4, 15).partition_order <= 2
    for order in range(3):
        rice.plan_bits(np.zeros(28, np.int32), order, np.zeros(1 << order), predictor_order=4)


def test_blocks_with_a_short_last_block():
    x = laplacian(50.0, 10_001, seed=12)
    for block in (4096, 1000, 7):
        data = rice.encode_blocks(x, block)
        bits = rice.blocks_bit_count(x, block)
        assert len(data) == -(-bits // 8)
        np.testing.assert_array_equal(rice.decode_blocks(data, x.size, block), x)
    assert rice.encode_blocks(np.zeros(0, np.int32)) == b""
    assert rice.decode_blocks(b"", 0).size == 0


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="signed integer"):
        rice.plan(np.zeros(4, np.float64))
    with pytest.raises(TypeError, match="signed integer"):
        rice.plan(np.zeros(4, np.uint16))
    with pytest.raises(ValueError, match="32-bit"):
        rice.plan(np.array([2**31], np.int64))
    with pytest.raises(ValueError, match="1-D"):
        rice.plan(np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match="param_bits"):
        rice.plan(np.zeros(4, np.int32), param_bits=6)
    with pytest.raises(ValueError, match="partition order"):
        rice.plan(np.zeros(4, np.int32), max_partition_order=16)


def test_corrupt_streams_are_refused():
    x = laplacian(40.0, 2048, seed=13)
    data = rice.encode(x)
    with pytest.raises(RiceError, match="truncated"):
        rice.decode(data[: len(data) // 2], x.size)
    with pytest.raises(RiceError, match="reserved"):
        rice.decode(bytes([0b10000000]) + data[1:], x.size)
    with pytest.raises(RiceError, match="partition order"):
        rice.decode(bytes([0b00001100]), 3)  # order 3 does not divide a block of 3
    blocks = rice.encode_blocks(x, 512)
    with pytest.raises(RiceError, match="goes on"):
        rice.decode_blocks(blocks + b"\x00", x.size, 512)
    with pytest.raises(RiceError):
        rice.decode_blocks(blocks[:-1], x.size, 512)


def test_rice_and_rice2_choice():
    x = laplacian(2.0**20, 4096, seed=14)  # parameters above 14 need RICE2
    auto, four, five = (rice.plan(x, param_bits=b) for b in (None, 4, 5))
    assert auto.bits == min(four.bits, five.bits)
    assert auto.param_bits == 5 and five.parameters.max() > 14
    small = laplacian(4.0, 4096, seed=15)
    assert rice.plan(small).param_bits == 4
    for (b, x_) in itertools.product((4, 5), (x, small)):
        check_round_trip(x_, param_bits=b)
