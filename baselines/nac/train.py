"""Train the Custom DAC: transformers' ``DacModel`` with waveform losses only (no adversarial, no perceptual).

    python -m baselines.nac train --dataset demo-music --preset cpu --steps 250 --out models/custom-dac

The loss is ``l1 * |y - x| + stft * multi-scale STFT + vq * (DAC's commitment + codebook losses)``,
where the multi-scale STFT term is the L1 distance of log magnitudes plus that of magnitudes at FFT
sizes 2048, 512 and 128 (those shorter than the window; hop a quarter, Hann window). Its weight is 0
by default: in runs of a few hundred CPU steps it held the model at outputting near silence (on
demo-music, 300 steps: valid error ~3000 LSB with weights 1 and 0.1, 1350 LSB without it), and the
waveform error is what the Rice-coded residual pays for. Training
windows are random crops of every channel of the datasets' train split (clips weighted by length,
shorter ones zero-padded), at the files' own sample rate, which becomes the model's. AdamW (betas
0.8, 0.99), linear warm-up then cosine decay, gradient clipping. Quantizer dropout (the preset's)
trains every prefix of codebooks. The weights start from :func:`init_for_training` (signal-preserving,
residual units as identities). Each window is scaled to an RMS of ``--target-rms`` (0.1 by
default) first, as the pipeline scales each block at coding time (a float16 gain stored per block):
the model learns one level instead of the corpus's spread of levels, which is what lets it learn
in minutes.

After training, the mean absolute error in integer steps (LSB) of the reconstruction from codes is
measured on fixed windows of the valid split, for every codebook count. The folder holds the model
(``save_pretrained``), ``nac.json`` (what it was trained on and how; the NAC CLI reports it as the
weights' origin) and ``train_log.jsonl``. There is no resume: the CPU preset trains in minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.nac.configs import DAC_PRESETS, NacError, dac_config
from baselines.nac.models import INFO_FILE
from trilobyte.core.cli import add_common_args, parse_bit_depth, setup_logging
from trilobyte.core.datasets import Dataset, DatasetError, get_dataset
from trilobyte.core.environment import environment

log = logging.getLogger("trilobyte.nac.train")
LOG_FILE = "train_log.jsonl"
STFT_SIZES = (2048, 512, 128)


class ClipWindows:
    """Random windows of mono float audio in [-1, 1) from every channel of every clip."""

    def __init__(self, signals: list[np.ndarray], window: int) -> None:
        if not signals:
            raise DatasetError("no clips to train on")
        self.signals = signals
        self.window = window
        lengths = np.array([s.size for s in signals], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        out = np.zeros((count, self.window), dtype=np.float32)
        for row, index in enumerate(rng.choice(len(self.signals), size=count, p=self.weights)):
            s = self.signals[index]
            start = int(rng.integers(0, max(0, s.size - self.window) + 1))
            piece = s[start : start + self.window]
            out[row, : piece.size] = piece
        return out


def load_signals(datasets: Sequence[Dataset], sample_rate: int | None) -> tuple[list[np.ndarray], int]:
    """Every channel of every clip as float32 in [-1, 1), all at one sample rate (the first seen, or given)."""
    signals, rate, skipped = [], sample_rate, 0
    for ds in datasets:
        for clip in ds.clips():
            if rate is None:
                rate = clip.sample_rate
            if clip.sample_rate != rate:
                skipped += 1
                continue
            scale = float(1 << (clip.bit_depth - 1))
            signals += [np.ascontiguousarray(clip.samples[:, c], dtype=np.float32) / scale
                        for c in range(clip.channels)]
    if skipped:
        log.warning("left out %d clip(s) not at %d Hz (the model's rate)", skipped, rate)
    if rate is None:
        raise DatasetError("no clips to train on")
    return signals, rate


def stft_loss(y: Any, x: Any) -> Any:
    """Multi-scale STFT distance: L1 of log magnitudes + L1 of magnitudes, averaged over the sizes."""
    import torch

    total, sizes = 0.0, [n for n in STFT_SIZES if n < y.shape[-1]]
    for n in sizes:
        window = torch.hann_window(n)
        sy, sx = (torch.stft(v, n, n // 4, window=window, return_complex=True).abs() for v in (y, x))
        total = total + (torch.log(sy + 1e-5) - torch.log(sx + 1e-5)).abs().mean() + (sy - sx).abs().mean()
    return total / max(1, len(sizes))


def learning_rate(step: int, base: float, warmup: int, total: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def init_for_training(model: Any) -> None:
    """Signal-preserving initialisation: convolutions N(0, 1/fan_in) with zero biases (a transposed
    convolution's fan-in counted per output sample: in * kernel / stride), and the last convolution of
    every residual unit zero, so each unit starts as the identity.

    transformers' ``DacModel`` draws every convolution from N(0, 0.02): through DAC's depth the signal
    then fades by a factor of ~1e4 before the quantizer, and in a few hundred steps the model only
    learns to output silence. The architecture is unchanged; only the starting point differs.
    """
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.ConvTranspose1d):
            fan_in = module.weight.shape[0] * module.weight.shape[2] / module.stride[0]
        elif isinstance(module, torch.nn.Conv1d):
            fan_in = module.weight.shape[1] * module.weight.shape[2]
        else:
            continue
        torch.nn.init.normal_(module.weight, 0.0, math.sqrt(1.0 / fan_in))
        torch.nn.init.zeros_(module.bias)
    for name, module in model.named_modules():
        if "res_unit" in name and name.endswith("conv2"):
            torch.nn.init.zeros_(module.weight)


def normalize(x: Any, target: float | None) -> tuple[Any, Any]:
    """Windows ``(batch, time)`` scaled to RMS ``target`` (as the pipeline scales blocks), and the gains."""
    import torch

    from baselines.nac.models import SCALE_MAX, SCALE_MIN

    if target is None:
        return x, torch.ones(x.shape[0], 1)
    gain = ((x.pow(2).mean(-1, keepdim=True).sqrt() + 1e-8) / target).clamp(SCALE_MIN, SCALE_MAX)
    return x / gain, gain


def reconstruction_error(model: Any, windows: np.ndarray, lsb: float, target: float | None) -> dict[int, float]:
    """Mean |x - gain * decode(codes)| in LSB on fixed windows, for 1..n codebooks (eval mode)."""
    import torch

    model.eval()
    errors = {}
    with torch.inference_mode():
        raw = torch.from_numpy(windows)
        x, gain = normalize(raw, target)
        codes = model.quantizer(model.encoder(x[:, None]), model.config.n_codebooks)[1]
        for n in range(1, model.config.n_codebooks + 1):
            y = model.decoder(model.quantizer.from_codes(codes[:, :n])[0])[:, 0] * gain
            errors[n] = float((y - raw).abs().mean()) * lsb
    model.train()
    return errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m baselines.nac train", description=__doc__.splitlines()[0])
    m = parser.add_argument_group("model")
    m.add_argument("--preset", choices=DAC_PRESETS, default="cpu", help="DAC size (default: cpu)")
    m.add_argument("--sample-rate", type=int, default=None,
                   help="train on clips at this rate only (default: the first clip's rate)")
    t = parser.add_argument_group("training")
    t.add_argument("--steps", type=int, default=500, help="optimizer steps (default: %(default)s)")
    t.add_argument("--batch-size", type=int, default=8, help="windows per step (default: %(default)s)")
    t.add_argument("--window", type=int, default=8192, help="samples per window (default: %(default)s)")
    t.add_argument("--target-rms", type=float, default=0.1,
                   help="RMS each window (and, when coding, each block) is scaled to; 0: none (default: 0.1)")
    t.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default: %(default)s)")
    t.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: 5%% of the steps)")
    t.add_argument("--grad-clip", type=float, default=1.0, help="gradient norm clip (default: %(default)s)")
    t.add_argument("--l1-weight", type=float, default=1.0, help="waveform L1 weight (default: %(default)s)")
    t.add_argument("--stft-weight", type=float, default=0.0,
                   help="multi-scale STFT weight; 0 leaves it out (default: 0, see the module notes)")
    t.add_argument("--vq-weight", type=float, default=1.0, help="commitment + codebook loss weight (default: 1)")
    t.add_argument("--val-windows", type=int, default=16, help="valid-split windows measured (default: 16)")
    t.add_argument("--log-every", type=int, default=10, help="log the loss every N steps (default: 10)")
    t.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    add_common_args(parser)
    return parser


def _datasets(args: argparse.Namespace, split: str) -> list[Dataset]:
    names = args.dataset or ["demo-music"]
    return [get_dataset(n, root=args.data_root, bit_depth=parse_bit_depth(args.bit_depth),
                        conversion=args.conversion, split=split, limit=args.limit) for n in names]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if args.device != "cpu":
        parser.error("Custom DAC training runs on the CPU here (use the paper preset's config elsewhere)")
    out = args.out if args.out != Path("reports/results") else Path("models/custom-dac")
    if (out / "config.json").exists() and not args.overwrite:
        log.error("%s already holds a model; use --overwrite to train a new one", out)
        return 1
    try:
        return train(args, out)
    except (DatasetError, NacError) as err:
        log.error("%s", err)
        return 1


def train(args: argparse.Namespace, out: Path) -> int:
    import torch
    from transformers import DacModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_sets = _datasets(args, "train")
    signals, rate = load_signals(train_sets, args.sample_rate)
    config = dac_config(args.preset, rate)
    hop = math.prod(config.downsampling_ratios)
    if args.window % hop:
        raise NacError(f"--window must be a multiple of the model's hop length {hop}")
    model = DacModel(config).train()
    init_for_training(model)
    target = args.target_rms or None
    windows = ClipWindows(signals, args.window)
    try:
        valid, _ = load_signals(_datasets(args, "valid"), rate)
    except DatasetError:
        valid = signals
        log.warning("no valid split: measuring on training clips")
    val = ClipWindows(valid, args.window).draw(np.random.default_rng(12345), args.val_windows)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.8, 0.99))
    warmup = args.warmup if args.warmup is not None else max(1, args.steps // 20)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / LOG_FILE
    log_path.write_text("")
    params = sum(p.numel() for p in model.parameters())
    log.info("Custom DAC %s: %.2fM parameters, %d Hz, hop %d, %d train channels, %d steps of %d x %d",
             args.preset, params / 1e6, rate, hop, len(signals), args.steps, args.batch_size, args.window)
    start = time.perf_counter()
    for step in range(args.steps):
        lr = learning_rate(step, args.lr, warmup, args.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, _ = normalize(torch.from_numpy(windows.draw(rng, args.batch_size)), target)
        output = model(x[:, None])
        y = output.audio_values
        l1 = (y - x).abs().mean()
        spec = stft_loss(y, x) if args.stft_weight else torch.zeros(())
        vq = output.loss.mean()
        loss = args.l1_weight * l1 + args.stft_weight * spec + args.vq_weight * vq
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        entry = {"step": step + 1, "loss": loss.item(), "l1": l1.item(), "stft": spec.item(), "vq": vq.item(),
                 "lr": lr, "seconds": time.perf_counter() - start}
        with log_path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            log.info("step %d/%d: loss %.4f (l1 %.5f, stft %.3f, vq %.4f), %.1f s", step + 1, args.steps,
                     entry["loss"], entry["l1"], entry["stft"], entry["vq"], entry["seconds"])
    seconds = time.perf_counter() - start
    lsb = float(1 << (max(ds.evaluated_depth(r) for ds in train_sets for r in ds.refs) - 1))
    errors = reconstruction_error(model, val, lsb, target)
    log.info("valid mean |error| in LSB by codebooks: %s", {k: round(v, 1) for k, v in errors.items()})
    model.eval()
    model.save_pretrained(out)
    info = {
        "origin": "trained here",
        "codec": "custom-dac",
        "preset": args.preset,
        "parameters": params,
        "sample_rate": rate,
        "target_rms": target,
        "datasets": [{"name": ds.name, "split": ds.split, "fingerprint": ds.fingerprint, "clips": len(ds)}
                     for ds in train_sets],
        "steps": args.steps,
        "batch_size": args.batch_size,
        "window": args.window,
        "loss": {"l1": args.l1_weight, "stft": args.stft_weight, "vq": args.vq_weight,
                 "stft_sizes": list(STFT_SIZES), "adversarial": None, "perceptual": None},
        "init": "signal-preserving: N(0, 1/fan_in) convolutions, residual units start as identities",
        "optimizer": {"name": "AdamW", "lr": args.lr, "betas": [0.8, 0.99], "warmup": warmup,
                      "schedule": "cosine to 0.1", "grad_clip": args.grad_clip},
        "seed": args.seed,
        "threads": args.threads,
        "train_seconds": seconds,
        "final": {k: entry[k] for k in ("loss", "l1", "stft", "vq")} if args.steps else None,
        "valid_mean_abs_error_lsb": {str(k): v for k, v in errors.items()},
        "environment": environment(("torch", "transformers")),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=1) + "\n")
    log.info("saved the Custom DAC in %s (%.1f min of training)", out, seconds / 60)
    return 0
