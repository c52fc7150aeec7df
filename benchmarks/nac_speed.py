"""Speed of the NAC + Rice pipeline on the CPU, in x realtime (prints figures only).

    python benchmarks/nac_speed.py --seconds 5 --model dac:paper --model encodec:24khz --model custom-dac:cpu
    python benchmarks/nac_speed.py --model dac --weights PATH      # your own weights

Each model is built at a named size with random weights (the speed of a codec does not depend on its
weights) or loaded from ``--weights``, saved and loaded through the same path the CLI uses, and runs
the whole pipeline of ``baselines.nac.codec`` on real demo music (44.1 kHz stereo) with one torch
thread (the setting that makes decoding reproducible): encode (model encode + reconstruction + Rice)
and decode (reconstruction + Rice decode + sum), with the model's share of the encode time. The
round trip is checked. Rice-coder speed alone is ``benchmarks/rice_speed.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_MODELS = ("custom-dac:cpu", "encodec:24khz", "encodec:48khz", "dac:paper")


def best_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    from baselines.nac import models as nac_models
    from baselines.nac.codec import NacCodec
    from trilobyte.core.datasets import get_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", metavar="CODEC[:PRESET]",
                        help=f"codec and size (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--weights", type=Path, default=None, help="weights for a single --model CODEC")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of audio coded (default: 5)")
    parser.add_argument("--codebooks", type=int, default=None, help="codebooks (default: the pipeline's)")
    parser.add_argument("--repeats", type=int, default=2, help="best of N runs (default: 2)")
    args = parser.parse_args(argv)

    nac_models.deterministic_torch(1)
    ds = get_dataset("demo-music", split="test")
    clip = max((c for c in ds.clips() if c.channels == 2), key=lambda c: c.num_samples)
    samples = np.tile(clip.samples, (int(np.ceil(args.seconds * clip.sample_rate / clip.num_samples)), 1))
    samples = samples[: int(args.seconds * clip.sample_rate)]
    audio_seconds = samples.shape[0] / clip.sample_rate
    print(f"{audio_seconds:.1f} s of {clip.id} ({clip.sample_rate} Hz, {clip.channels} ch, {clip.bit_depth}-bit),"
          " 1 torch thread, best of", args.repeats)
    print(f"{'model':<22}{'params':>9}{'codebooks':>10}{'rate':>8}{'encode xRT':>12}{'model %':>9}{'decode xRT':>12}")
    for spec in args.model or DEFAULT_MODELS:
        codec_name, _, preset = spec.partition(":")
        with tempfile.TemporaryDirectory() as tmp:
            if args.weights is not None:
                path = args.weights
            else:
                kind = nac_models.model_type(codec_name)
                preset = preset or ("24khz" if kind == "encodec" else "cpu")
                path = nac_models.save_random_model(codec_name, preset, Path(tmp) / "model")
            model = nac_models.load_model(codec_name, path)
            codec = NacCodec(model, args.codebooks)
            codec.encode(samples[: clip.sample_rate // 4], clip.sample_rate, clip.bit_depth)  # warm-up
            t_enc, enc = best_time(lambda c=codec: c.encode(samples, clip.sample_rate, clip.bit_depth), args.repeats)
            t_dec, dec = best_time(lambda c=codec, e=enc: c.decode(e.data), args.repeats)
            if not np.array_equal(dec[0], samples):
                raise AssertionError(f"{spec}: round trip failed")
            share = enc.seconds["model"] / sum(enc.seconds.values())
            rate = samples.size * clip.bit_depth / (8 * len(enc.data))
            print(f"{spec:<22}{model.parameters / 1e6:8.2f}M{codec.codebooks:>10}{rate:8.3f}"
                  f"{audio_seconds / t_enc:12.3f}{100 * share:8.1f}%{audio_seconds / t_dec:12.3f}")
    if args.weights is None:
        print("rates of randomly initialised models mean nothing; the speeds are the codecs'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
