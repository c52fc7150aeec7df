"""Speed of the Trilobyte codec: the range coder alone, and decoding with a cache and batching beside
re-running the prefix for every token (the way the paper's released codec decoded). Prints figures only.

    python benchmarks/codec_speed.py --preset tiny --preset small --seconds 0.2

Coder: tables from random logits (the table function timed apart), then constriction's range coder
encoding and decoding them, symbols per second on one core. Decoding: a real 16-bit mono speech
excerpt, encoded and decoded by the codec (KV cache, ``--group-frames`` frames per batch, and the same
with one frame per batch); the prefix re-run is timed on its first ``--rerun-tokens`` tokens. All on the
same model in the same run; x realtime = seconds of audio per second of decoding.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def coder_speed(rows: int) -> None:
    from trilobyte.gpt2 import entropy

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (rows, 256)).astype(np.float32)
    start = time.perf_counter()
    tables = entropy.probability_table(logits)
    table_s = time.perf_counter() - start
    p = tables / entropy.TOTAL
    symbols = (p.cumsum(axis=1) > rng.random((rows, 1))).argmax(axis=1).astype(np.int32)
    start = time.perf_counter()
    data = entropy.encode_symbols(symbols, tables)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    back = entropy.decode_symbols(data, tables)
    decode_s = time.perf_counter() - start
    assert np.array_equal(back, symbols)
    info = entropy.information_bits(tables, symbols)
    print(
        f"coder: {rows:,} symbols of 256; range encode {rows / encode_s:,.0f} symbols/s, decode"
        f" {rows / decode_s:,.0f} symbols/s; tables from logits {rows / table_s:,.0f} rows/s;"
        f" size {8 * len(data)} bits for {info:.0f} bits of information"
    )


def rerun_prefix_speed(model: object, tokens: np.ndarray, count: int, context: int) -> float:
    """Tokens/s of predicting each token by a full forward pass over its window's prefix (no cache, batch 1)."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        for t in range(1, count + 1):
            prefix = tokens[max(0, t - context) : t]
            model(input_ids=torch.from_numpy(prefix[None].astype(np.int64)), use_cache=False)
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    import torch

    from trilobyte.core.datasets import get_dataset
    from trilobyte.gpt2 import codec
    from trilobyte.gpt2.model import PRESETS, build_model, save_model
    from trilobyte.gpt2.tokenize import TokenizerSettings, encode

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", choices=list(PRESETS), help="default: tiny and small")
    parser.add_argument("--model", action="append", default=[], help="a trained model folder (besides presets)")
    parser.add_argument(
        "--seconds", type=float, default=0.3, help="seconds of 48 kHz speech, in whole groups (default 0.3)"
    )
    parser.add_argument("--frame-samples", type=int, default=1024, help="samples per frame (default: 1024)")
    parser.add_argument("--group-frames", type=int, default=16, help="frames per batch (default: 16)")
    parser.add_argument("--rerun-tokens", type=int, default=300, help="tokens timed for the prefix re-run")
    parser.add_argument("--coder-symbols", type=int, default=200_000, help="symbols for the coder alone")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--workdir", default=None, help="where presets are saved (default: a temporary folder)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    coder_speed(args.coder_symbols)

    import tempfile
    from pathlib import Path

    clip = next(c for c in get_dataset("demo-speech48").clips() if c.num_samples > 60000)
    batch = args.frame_samples * args.group_frames  # whole groups: no lone last group
    n = max(1, round(args.seconds * clip.sample_rate / batch)) * batch
    samples = clip.samples[20000 : 20000 + n, :1]
    folders: list[tuple[str, Path]] = [(Path(m).name, Path(m)) for m in args.model]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        settings16 = TokenizerSettings("bytes", 16)
        for name in args.preset or ([] if args.model else ["tiny", "small"]):
            model = build_model(name, settings16)
            folders.append((f"{name} (untrained)", save_model(model, settings16, Path(tmp) / name, name)))
        print(
            f"audio: {n} samples of 16-bit mono speech at {clip.sample_rate} Hz ({n / clip.sample_rate:.2f} s);"
            f" {args.threads} torch thread(s); frames of {args.frame_samples} samples, {args.group_frames} per batch"
        )
        for label, folder in folders:
            loaded = codec.get_model(folder)
            tokens = n * loaded.settings.tokens_per_sample  # value and NULL tokens: every one is a model step
            seconds = n / clip.sample_rate
            line = [f"{label}:"]
            for group in (args.group_frames, 1):
                settings = codec.CodecSettings(args.frame_samples, group, args.threads)
                encoded = codec.encode(samples, clip.sample_rate, 16, loaded, settings)
                start = time.perf_counter()
                decoded, _ = codec.decode(encoded.data, loaded)
                elapsed = time.perf_counter() - start
                assert np.array_equal(decoded, samples)
                line.append(
                    f"cached, {group} frame(s)/batch: decode {tokens / elapsed:,.0f} tokens/s"
                    f" ({seconds / elapsed:.4f}x realtime; encode {seconds / encoded.seconds:.4f}x),"
                    f" {8 * len(encoded.data) / samples.size / 16:.4f} of raw"
                )
            sequence = encode(samples, 16, loaded.settings)
            rerun = rerun_prefix_speed(loaded.model, sequence, args.rerun_tokens, loaded.info.context)
            per_second = clip.sample_rate * loaded.settings.tokens_per_sample
            line.append(f"prefix re-run per token: {rerun:,.0f} tokens/s ({rerun / per_second:.5f}x realtime)")
            print("\n    ".join(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
