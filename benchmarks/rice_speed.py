"""Speed of the partitioned Rice coder (``baselines.rice``): samples per second, after numba warm-up.

``python benchmarks/rice_speed.py`` codes 1M discrete-Laplacian residuals in 4096-sample blocks and
prints the best of a few runs for the exact bit count (the search alone), encode (search + writing)
and decode, plus the coded size against the ideal for a few Laplacian scales.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np

from baselines import rice


def laplacian(rng: np.random.Generator, scale: float, n: int) -> np.ndarray:
    """Discrete Laplacian P(x) ~ exp(-|x| / scale), as the difference of two geometric variables."""
    q = 1.0 - np.exp(-1.0 / scale)
    return (rng.geometric(q, n) - rng.geometric(q, n)).astype(np.int32)


def laplacian_self_information(x: np.ndarray, scale: float) -> float:
    """-sum log2 P(x_i) under the true discrete Laplacian: the ideal code length of this sample."""
    theta = np.exp(-1.0 / scale)
    return float(-(x.size * np.log2((1 - theta) / (1 + theta)) + np.abs(x).sum() * np.log2(theta)))


def best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: numba compiles (or loads its cache) here
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--scale", type=float, default=64.0, help="Laplacian scale of the residuals")
    parser.add_argument("--block-size", type=int, default=rice.DEFAULT_BLOCK_SIZE)
    parser.add_argument("--max-partition-order", type=int, default=rice.DEFAULT_MAX_PARTITION_ORDER)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x = laplacian(np.random.default_rng(args.seed), args.scale, args.samples)
    opts = {"block_size": args.block_size, "max_partition_order": args.max_partition_order}
    data = rice.encode_blocks(x, **opts)
    if not np.array_equal(rice.decode_blocks(data, x.size, args.block_size), x):
        raise AssertionError("round trip failed")
    t_count = best_time(lambda: rice.blocks_bit_count(x, **opts), args.repeats)
    t_enc = best_time(lambda: rice.encode_blocks(x, **opts), args.repeats)
    t_dec = best_time(lambda: rice.decode_blocks(data, x.size, args.block_size), args.repeats)
    print(f"{x.size} samples, Laplacian scale {args.scale:g}, blocks of {args.block_size}, "
          f"partition orders 0..{args.max_partition_order}: {8 * len(data) / x.size:.4f} bits/sample")
    for label, t in (("bit count", t_count), ("encode", t_enc), ("decode", t_dec)):
        print(f"  {label:9s} {x.size / t / 1e6:8.2f} M samples/s  ({1e3 * t:.1f} ms)")

    print("coded size vs ideal (-sum log2 P under the true discrete Laplacian), 2^16 samples:")
    rng = np.random.default_rng(args.seed)
    for scale in (0.5, 1, 2, 4, 8, 16, 64, 256):
        y = laplacian(rng, scale, 1 << 16)
        bits = rice.blocks_bit_count(y, **opts)
        ideal = laplacian_self_information(y, scale)
        print(f"  scale {scale:5g}: {bits / y.size:7.4f} bits/sample, ideal {ideal / y.size:7.4f}, "
              f"gap {100 * (bits / ideal - 1):6.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
