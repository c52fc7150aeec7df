"""Speed of the hybrid codec on one core beside ``flac -8``, sac and the GPT-2 codec, on the same file in one run.

    python benchmarks/hybrid_speed.py [--model DIR] [--seconds 10] [--gpt2-seconds 0.2] [--sac PATH]

The file is 44.1 kHz 16-bit stereo: the longest stereo clip of the demo music test split (repeated to
``--seconds``). Hybrid: the whole file through the codec (independent frames, one process, numba kernels
compiled beforehand), with ``--model``'s folder or the default model installed with the package. FLAC:
libFLAC -8 through pyflac, decoded by libsndfile. sac (``--sac PATH``, a built sac program): ``--normal``,
its encoder's and decoder's own run times through :mod:`baselines.classical` (which writes the WAV, runs
both and compares the decode bit for bit). GPT-2: the Trilobyte codec
with a tiny randomly initialised model (its speed does not depend on training) on the first
``--gpt2-seconds`` of the file. x realtime = audio seconds per second; samples/s counts every channel.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.hybrid_vs_flac import SAC, classical_coders

if TYPE_CHECKING:
    from baselines.classical.commands import CommandCoder

os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def stereo_music(seconds: float) -> np.ndarray:
    from trilobyte.core.datasets import get_dataset

    clips = [c for c in get_dataset("demo-music", split="test").clips() if c.channels == 2]
    x = max(clips, key=lambda c: c.num_samples).samples
    need = int(seconds * 44100)
    return np.ascontiguousarray(np.tile(x, (need // len(x) + 1, 1))[:need])


def line(name: str, x: np.ndarray, encode_s: float, decode_s: float, size_bits: int) -> None:
    audio_s = len(x) / 44100
    print(f"{name:34s} encode {audio_s / encode_s:8.2f}x realtime ({x.size / encode_s:11,.0f} samples/s)"
          f"  decode {audio_s / decode_s:8.2f}x realtime ({x.size / decode_s:11,.0f} samples/s)"
          f"  rate {x.size * 16 / size_bits:.3f}")


def hybrid(x: np.ndarray, model: str) -> None:
    from trilobyte.hybrid import codec

    codec.decode(codec.encode(x[:2000], 44100, 16, model).data, model)  # compile the kernels
    start = time.perf_counter()
    encoded = codec.encode(x, 44100, 16, model)
    mid = time.perf_counter()
    back, _ = codec.decode(encoded.data, model)
    end = time.perf_counter()
    assert np.array_equal(back, x)
    line("hybrid (1 process)", x, mid - start, end - mid, encoded.payload_bits)


def flac(x: np.ndarray) -> None:
    from baselines.flac import codec as flac_codec
    from baselines.flac.codec import FlacSettings

    start = time.perf_counter()
    data = flac_codec.encode(x, 44100, 16, FlacSettings(8))
    mid = time.perf_counter()
    back, _, _ = flac_codec.decode(data)
    end = time.perf_counter()
    assert np.array_equal(back, x)
    line("flac -8 (libFLAC)", x, mid - start, end - mid, 8 * len(data))


def sac(x: np.ndarray, coder: CommandCoder) -> None:
    from trilobyte.core.datasets import AudioClip

    clip = AudioClip("music", Path("music.wav"), x, 44100, 16, "music", "music")
    row = coder.code_file(clip)  # encoded, decoded and compared
    line("sac --normal", x, row.extra["encode_seconds"], row.extra["decode_seconds"], row.compressed_bits)


def gpt2(x: np.ndarray, seconds: float) -> None:
    import torch

    from trilobyte.gpt2 import codec
    from trilobyte.gpt2.model import build_model, save_model
    from trilobyte.gpt2.tokenize import TokenizerSettings

    torch.set_num_threads(1)
    part = x[: int(seconds * 44100)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = TokenizerSettings("bytes", 16)
        save_model(build_model("tiny", settings), settings, tmp, "tiny")
        loaded = codec.get_model(tmp)
        start = time.perf_counter()
        encoded = codec.encode(part, 44100, 16, loaded, codec.CodecSettings(threads=1), 1)
        mid = time.perf_counter()
        back, _ = codec.decode(encoded.data, loaded, 1)
        end = time.perf_counter()
    assert np.array_equal(back, part)
    line("GPT-2 codec (tiny, random init)", part, mid - start, end - mid, encoded.payload_bits)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a hybrid model folder (default: the installed default model)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio seconds (default: 10)")
    parser.add_argument("--gpt2-seconds", type=float, default=0.2, help="seconds the GPT-2 codec codes (0: skip)")
    parser.add_argument("--sac", type=Path, default=None, metavar="PATH", help="a built sac program: time it too")
    args = parser.parse_args(argv)
    others = dict(classical_coders(parser, False, args.sac))  # sac as hybrid_vs_flac.py builds it
    from trilobyte.hybrid.defaults import NoDefaultModel, resolve_model

    try:
        model = str(resolve_model(args.model))
    except NoDefaultModel as err:
        parser.error(str(err))
    x = stereo_music(args.seconds)
    print(f"44.1 kHz 16-bit stereo, {args.seconds:g} s; one process, one thread each")
    hybrid(x, model)
    flac(x)
    if SAC in others:
        sac(x, others[SAC])
    if args.gpt2_seconds > 0:
        gpt2(x, args.gpt2_seconds)


if __name__ == "__main__":
    main()
