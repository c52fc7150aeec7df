"""Train a Trilobyte GPT-2: ``python -m trilobyte.train --dataset D --preset P --steps N --out DIR``.

Training reads random windows of the tokenized clips of each dataset's train split (several
``--dataset`` train one model on all of them: the Transfer model), and measures bits per byte on a
fixed set of windows of the valid split. AdamW (betas 0.9, 0.95; weight decay 0.1 on matrices), a
linear warmup then cosine decay, gradient clipping, bf16 autocast on GPU and fp32 on CPU.

A checkpoint (weights, optimizer, step) is written to ``DIR/checkpoint`` every ``--save-every`` steps;
running the same command again resumes from it (``--overwrite`` starts afresh). The finished model is
saved in ``DIR`` itself (``model.safetensors``, ``config.json``, ``trilobyte.json``); ``DIR/train_log.jsonl``
holds the losses. Under ``torchrun`` the run is data-parallel (DDP; gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from trilobyte.core.cli import (
    add_allow_eval_split,
    add_common_args,
    check_training_args,
    parse_bit_depth,
    setup_logging,
)
from trilobyte.core.datasets import Dataset, DatasetError, get_dataset
from trilobyte.core.environment import environment
from trilobyte.core.leakage import CLIPS_FILE, save_training_clips
from trilobyte.gpt2.model import PRESETS, ModelError, build_model, load_model, read_info, save_model
from trilobyte.gpt2.scoring import LN2, value_nll
from trilobyte.gpt2.tokenize import (
    LAYOUTS,
    SCHEMES,
    ClipTokens,
    TokenizeError,
    TokenizerSettings,
    draw_depth,
    mask_low_bytes,
    parse_depth_dropout,
)

log = logging.getLogger("trilobyte.gpt2.train")
CHECKPOINT = "checkpoint"
STATE_FILE = "state.pt"
LOG_FILE = "train_log.jsonl"
PACKAGES = ("torch", "transformers", "safetensors")


# -- data --------------------------------------------------------------------------------------------


def load_clip_tokens(datasets: Sequence[Dataset], settings: TokenizerSettings) -> list[ClipTokens]:
    """Every clip of the datasets, tokenized (one array per channel; layouts are built per window)."""
    clips = []
    for ds in datasets:
        for clip in ds.clips():
            clips.append(ClipTokens.from_samples(clip.samples, clip.bit_depth, settings))
    return clips


def clip_tokens(
    datasets: Sequence[Dataset], settings: TokenizerSettings, args: argparse.Namespace, dist: Dist
) -> list[ClipTokens]:
    """The datasets' tokens: in memory, or memory-mapped from ``--token-cache`` (built by the main process)."""
    if args.token_cache is None:
        clips = load_clip_tokens(datasets, settings)
    else:
        from trilobyte.gpt2.token_cache import cached_clip_tokens

        clips = cached_clip_tokens(
            list(datasets),
            settings,
            args.token_cache,
            may_build=dist.main,
            progress=dist.main and not args.no_progress,
        )
    if not clips:
        raise DatasetError("no clips to train on")
    return clips


def deepest(datasets: Sequence[Dataset]) -> int:
    return max(ds.evaluated_depth(r) for ds in datasets for r in ds.refs if not r.error)


class WindowSampler:
    """Random windows of ``window`` tokens, starting at sample boundaries, from clips weighted by length.

    A window starting at sequence index ``a`` (a multiple of the tokens per sample) holds the token
    before a sample (BOS at the clip start) and then whole samples: every window has the same byte
    phase, as the estimator's windows do. In training each window takes a random channel order and
    may be shown at a lower depth (depth dropout); validation windows take neither.
    """

    def __init__(self, clips: Sequence[ClipTokens], window: int) -> None:
        self.clips = list(clips)
        self.window = window
        lengths = np.array([c.body_length for c in self.clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def draw(self, rng: np.random.Generator, count: int, train: bool = True) -> np.ndarray:
        rows = []
        for index in rng.choice(len(self.clips), size=count, p=self.weights):
            clip = self.clips[index]
            per = clip.settings.tokens_per_sample
            last = max(0, clip.length - self.window)
            start = int(rng.integers(0, last // per + 1)) * per
            order = rng.permutation(clip.channels) if train else None
            window = clip.gather(start, self.window, order)
            if train:
                depth = draw_depth(rng, clip.clip_depth, clip.settings)
                window = mask_low_bytes(window, start, depth, clip.settings)
            rows.append(window)
        return np.stack(rows).astype(np.int64)


# -- optimisation --------------------------------------------------------------------------------------


def learning_rate(step: int, base: float, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``min_ratio * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: Any, lr: float, weight_decay: float, fused: bool) -> Any:
    """AdamW (0.9, 0.95); weight decay on matrices and embeddings only, not on biases and norms."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=fused)


def train_step(
    net: Any,
    optimizer: Any,
    next_batch: Callable[[], Any],
    settings: TokenizerSettings,
    *,
    accum: int = 1,
    device: str = "cpu",
    autocast_dtype: Any = None,
    grad_clip: float = 1.0,
    distributed: bool = False,
) -> tuple[float, float]:
    """One optimizer step: forward and backward over ``accum`` micro-batches, gradient clipping, the update.

    ``next_batch()`` gives each micro-batch, a ``(B, T + 1)`` token tensor on ``device``. Under DDP
    (``distributed``) gradients are all-reduced on the last micro-batch only. Autocast to
    ``autocast_dtype`` (bf16) when given; on CUDA the step ends synchronised. Returns the summed NLL in
    nats and the number of scored tokens.
    """
    import torch

    nats, tokens = 0.0, 0.0
    for micro in range(accum):
        batch = next_batch()
        sync = micro == accum - 1 or not distributed
        with (
            net.no_sync() if not sync else contextlib.nullcontext(),
            torch.autocast(
                device_type=torch.device(device).type, dtype=autocast_dtype, enabled=autocast_dtype is not None
            ),
        ):
            nll, scored = value_nll(net, batch, settings)
            count = scored.sum()
            loss = nll.sum() / count.clamp(min=1)
            (loss / accum).backward()
        nats += float(nll.detach().double().sum())
        tokens += float(count)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return nats, tokens


@dataclass
class Dist:
    """Where this process stands in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, NCCL on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as torch_dist

    backend = "nccl" if device.startswith("cuda") else "gloo"
    torch_dist.init_process_group(backend=backend)
    return Dist(torch_dist.get_rank(), torch_dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def leave_distributed(dist: Dist, finished: bool) -> None:
    """Leave the torchrun process group, once train() has returned.

    By then the DistributedDataParallel wrapper, whose reducer holds the group, is freed, so the group's
    threads end here rather than in interpreter teardown (where gloo can abort a rank). The barrier keeps
    the other ranks until rank 0 has written the model; a failed rank skips it, since its peers may be
    inside another collective.
    """
    if dist.world == 1:
        return
    import gc

    import torch.distributed as torch_dist

    gc.collect()
    if finished:
        torch_dist.barrier()
    torch_dist.destroy_process_group()


def all_reduce_sum(values: list[float], dist: Dist, device: str) -> list[float]:
    if dist.world == 1:
        return values
    import torch
    import torch.distributed as torch_dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    torch_dist.all_reduce(tensor)
    return tensor.tolist()


def validate(
    model: Any,
    windows: np.ndarray,
    settings: TokenizerSettings,
    batch_size: int,
    device: str,
    autocast_dtype: Any,
    dist: Dist,
) -> float:
    """Bits per byte of audio over the validation windows (this rank's share, summed over ranks)."""
    import torch

    model.eval()
    nats, tokens = 0.0, 0.0
    mine = windows[dist.rank :: dist.world]
    with (
        torch.inference_mode(),
        torch.autocast(
            device_type=torch.device(device).type, dtype=autocast_dtype, enabled=autocast_dtype is not None
        ),
    ):
        for first in range(0, len(mine), batch_size):
            batch = torch.from_numpy(mine[first : first + batch_size]).to(device)
            nll, scored = value_nll(model, batch, settings)
            nats += float(nll.double().sum())
            tokens += float(scored.sum())
    model.train()
    nats, tokens = all_reduce_sum([nats, tokens], dist, device)
    bytes_per_token = settings.bits_per_token(settings.bit_depth) / 8
    return nats / LN2 / (tokens * bytes_per_token) if tokens else float("nan")


# -- checkpoints ----------------------------------------------------------------------------------------


def save_checkpoint(
    out: Path, model: Any, optimizer: Any, settings: TokenizerSettings, preset: str, step: int, record: dict
) -> None:
    """Write ``out/checkpoint`` whole or not at all (written beside it, then swapped in)."""
    import torch

    final, fresh, old = out / CHECKPOINT, out / f"{CHECKPOINT}.new", out / f"{CHECKPOINT}.old"
    shutil.rmtree(fresh, ignore_errors=True)
    save_model(model, settings, fresh, preset, {**record, "step": step})
    if (out / CLIPS_FILE).exists():
        shutil.copy2(out / CLIPS_FILE, fresh / CLIPS_FILE)
    torch.save({"optimizer": optimizer.state_dict(), "step": step}, fresh / STATE_FILE)
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(out: Path) -> Path | None:
    for name in (CHECKPOINT, f"{CHECKPOINT}.old"):
        if (out / name / STATE_FILE).exists():
            return out / name
    return None


# -- the command ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trilobyte.train",
        description="Train a Trilobyte GPT-2 on the train split of one or more datasets.",
    )
    m = parser.add_argument_group("model and tokens")
    m.add_argument("--preset", choices=list(PRESETS), default="tiny", help="model size (default: tiny)")
    m.add_argument("--context", type=int, default=None, help="context in tokens (default: the preset's)")
    m.add_argument("--scheme", choices=SCHEMES, default="bytes", help="bytes (Trilobyte) or sample tokens")
    m.add_argument(
        "--stereo", choices=LAYOUTS, default="concat", help="channel layout (default: concat, random order)"
    )
    m.add_argument(
        "--model-bit-depth",
        type=int,
        choices=[8, 16, 24],
        default=None,
        help="deepest audio the model takes; shallower clips get NULL low bytes (default: deepest clip)",
    )
    m.add_argument(
        "--depth-dropout",
        type=parse_depth_dropout,
        default=(),
        metavar="D=P,...",
        help="show a training window of deeper audio at depth D with probability P, e.g. 8=0.2,16=0.2",
    )
    m.add_argument("--dropout", type=float, default=0.0, help="GPT-2 dropout (default: 0)")
    t = parser.add_argument_group("training")
    t.add_argument("--steps", type=int, default=1000, help="optimizer steps (default: 1000)")
    t.add_argument(
        "--batch-size", type=int, default=None, help="windows per step per process (default: preset)"
    )
    t.add_argument("--grad-accum", type=int, default=1, help="micro-batches per step (default: 1)")
    t.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the preset's)")
    t.add_argument(
        "--min-lr-ratio", type=float, default=0.1, help="final / peak learning rate (default: 0.1)"
    )
    t.add_argument(
        "--warmup", type=int, default=None, help="warmup steps (default: preset, at most steps/10)"
    )
    t.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (default: 0.1)")
    t.add_argument("--grad-clip", type=float, default=1.0, help="gradient norm clip (default: 1.0)")
    t.add_argument("--dtype", choices=["auto", "fp32", "bf16"], default="auto", help="auto: bf16 on GPU")
    t.add_argument("--eval-every", type=int, default=None, help="validate every N steps (default: steps/5)")
    t.add_argument("--val-windows", type=int, default=32, help="validation windows (default: 32)")
    t.add_argument(
        "--save-every", type=int, default=None, help="checkpoint every N steps (default: eval-every)"
    )
    t.add_argument("--log-every", type=int, default=10, help="log the loss every N steps (default: 10)")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    t.add_argument(
        "--token-cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="tokenize each dataset once into DIR and memory-map it (for data larger than memory;"
        " under torchrun the first process builds it while the others wait for it)",
    )
    add_allow_eval_split(t)
    add_common_args(parser, default_datasets=())
    # --out is the model folder; --split the training split; --overwrite starts afresh
    parser.set_defaults(split="train", out=None)
    shared = parser._option_string_actions
    shared["--out"].help = "the model folder to write (required)"
    shared["--split"].help = "split to train on (default: train); validation always uses valid"
    shared["--overwrite"].help = "start afresh instead of resuming from DIR/checkpoint"
    shared["--jobs"].help = "not used: run several processes with torchrun"
    return parser


def _datasets(args: argparse.Namespace, split: str) -> list[Dataset]:
    depth = parse_bit_depth(args.bit_depth)
    return [
        get_dataset(
            name,
            root=args.data_root,
            bit_depth=depth,
            conversion=args.conversion,
            split=split,
            limit=args.limit,
        )
        for name in args.dataset
    ]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_training_args(parser, args)
    if args.shard or args.jobs != 1:
        parser.error(
            "--shard and --jobs split evaluation; training runs data-parallel under torchrun instead"
        )
    setup_logging(args.verbose)
    dist = init_distributed(args.device)
    finished = False
    try:
        status = train(args, dist)
        finished = True
        return status
    except (DatasetError, TokenizeError, ModelError, ValueError) as err:
        log.error("%s", err)
        return 1
    finally:
        leave_distributed(dist, finished)


def training_record(args: argparse.Namespace, train_sets: list[Dataset], valid_sets: list[Dataset], batch_size: int,
                    lr: float, warmup: int, world_size: int, use_bf16: bool) -> dict[str, Any]:
    """What a model records of how it was trained (datasets, schedule, precision, seed)."""
    return {
        "datasets": [{"name": d.name, "split": d.split, "fingerprint": d.fingerprint} for d in train_sets],
        "valid": [{"name": d.name, "split": d.split, "fingerprint": d.fingerprint} for d in valid_sets],
        "steps": args.steps,
        "batch_size": batch_size,
        "grad_accum": args.grad_accum,
        "world_size": world_size,
        "lr": lr,
        "min_lr_ratio": args.min_lr_ratio,
        "warmup": warmup,
        "weight_decay": args.weight_decay,
        "grad_clip": args.grad_clip,
        "dtype": "bf16" if use_bf16 else "fp32",
        "seed": args.seed,
        "dropout": args.dropout,
        "allow_eval_split": bool(args.allow_eval_split),
    }


def build_or_resume(args: argparse.Namespace, out: Path, settings: TokenizerSettings, context: int, device: str,
                    lr: float, main: bool) -> tuple[Any, Any, int]:
    """A new model and optimizer, or the last checkpoint's in ``out`` (refused when its settings differ);
    with ``--overwrite`` the old checkpoints and log are removed. Returns (model, optimizer, first step)."""
    import torch

    checkpoint = None if args.overwrite else find_checkpoint(out)
    if args.overwrite and main:  # one process of a distributed run clears the folder
        for name in (CHECKPOINT, f"{CHECKPOINT}.old", f"{CHECKPOINT}.new", LOG_FILE):
            target = out / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    start_step = 0
    if checkpoint is not None:
        info = read_info(checkpoint)
        if info.settings != settings or info.preset != args.preset or info.context != context:
            raise ModelError(
                f"{checkpoint} was made with other settings ({info.preset}, context {info.context},"
                f" {info.settings}); use --overwrite to start afresh or another --out"
            )
        model, _ = load_model(checkpoint, device)
        state = torch.load(checkpoint / STATE_FILE, map_location=device, weights_only=True)
        start_step = int(state["step"])
        log.info("resuming from %s at step %d", checkpoint, start_step)
    else:
        model = build_model(args.preset, settings, context, args.dropout, seed=args.seed).to(device)
    model.train()
    optimizer = make_optimizer(model, lr, args.weight_decay, fused=device.startswith("cuda"))
    if checkpoint is not None:
        optimizer.load_state_dict(state["optimizer"])
    return model, optimizer, start_step


def train(args: argparse.Namespace, dist: Dist) -> int:
    import torch

    preset = PRESETS[args.preset]
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if device.startswith("cuda") and dist.world > 1:
        device = f"cuda:{dist.local_rank}"
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    use_bf16 = args.dtype == "bf16" or (args.dtype == "auto" and device.startswith("cuda"))
    autocast_dtype = torch.bfloat16 if use_bf16 else None
    out = Path(args.out)

    train_sets = _datasets(args, args.split)
    valid_sets = _datasets(args, "valid")
    depth = args.model_bit_depth or deepest(train_sets + valid_sets)
    settings = TokenizerSettings(args.scheme, depth, args.stereo, args.depth_dropout)
    context = args.context or preset.context
    batch_size = args.batch_size or preset.batch_size
    lr = args.lr or preset.learning_rate
    warmup = args.warmup if args.warmup is not None else min(preset.warmup, max(1, args.steps // 10))
    eval_every = args.eval_every or max(1, args.steps // 5)
    save_every = args.save_every or eval_every

    train_clips = clip_tokens(train_sets, settings, args, dist)
    valid_clips = clip_tokens(valid_sets, settings, args, dist)
    sampler = WindowSampler(train_clips, context + 1)
    val_windows = WindowSampler(valid_clips, context + 1).draw(
        np.random.default_rng([args.seed, 1]), args.val_windows, train=False
    )
    record = training_record(args, train_sets, valid_sets, batch_size, lr, warmup, dist.world, use_bf16)
    if dist.main:
        record["training_clips"] = save_training_clips(out, train_sets)

    model, optimizer, start_step = build_or_resume(args, out, settings, context, device, lr, dist.main)
    net = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(
            model, device_ids=[dist.local_rank] if device.startswith("cuda") else None
        )

    parameters = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        log.info(
            "%s preset, %s parameters, context %d, %s; %d train clips, %d valid clips; device %s x %d",
            args.preset,
            f"{parameters:,}",
            context,
            settings,
            len(train_clips),
            len(valid_clips),
            device,
            dist.world,
        )
    log_handle = (out / LOG_FILE).open("a", encoding="utf-8") if dist.main else None

    def write_log(entry: dict) -> None:
        if log_handle:
            log_handle.write(json.dumps(entry) + "\n")
            log_handle.flush()

    tokens_per_step = batch_size * context * args.grad_accum * dist.world
    bar = tqdm(
        total=args.steps,
        initial=start_step,
        desc="train",
        unit="step",
        disable=not dist.main or args.no_progress,
    )
    train_seconds, trained_tokens, val_bpb = 0.0, 0, None
    window_loss, window_tokens, window_steps, window_seconds = 0.0, 0.0, 0, 0.0
    try:
        for step in range(start_step, args.steps):
            step_start = time.perf_counter()
            rate = learning_rate(step, lr, warmup, args.steps, args.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = rate
            rng = np.random.default_rng([args.seed, dist.rank, step])
            nats, count = train_step(
                net,
                optimizer,
                lambda rng=rng: torch.from_numpy(sampler.draw(rng, batch_size)).to(device),
                settings,
                accum=args.grad_accum,
                device=device,
                autocast_dtype=autocast_dtype,
                grad_clip=args.grad_clip,
                distributed=dist.world > 1,
            )
            window_loss += nats
            window_tokens += count
            elapsed = time.perf_counter() - step_start
            train_seconds += elapsed
            window_seconds += elapsed
            window_steps += 1
            trained_tokens += tokens_per_step
            done = step + 1
            bar.update(1)
            if done % args.log_every == 0 or done == args.steps:
                loss_bits, tokens = all_reduce_sum([window_loss / LN2, window_tokens], dist, device)
                entry = {
                    "step": done,
                    "loss_bits": loss_bits / max(tokens, 1),
                    "lr": rate,
                    "tokens_per_s": tokens_per_step * window_steps / max(window_seconds, 1e-9),
                }
                bar.set_postfix(loss=f"{entry['loss_bits']:.3f}b", lr=f"{rate:.1e}")
                write_log(entry)
                window_loss, window_tokens, window_steps, window_seconds = 0.0, 0.0, 0, 0.0
            if done % eval_every == 0 or done == args.steps:
                val_bpb = validate(model, val_windows, settings, batch_size, device, autocast_dtype, dist)
                write_log({"step": done, "val_bits_per_byte": val_bpb, "val_rate": 8 / val_bpb})
                if dist.main:
                    log.info("step %d: valid %.4f bits per byte (rate %.3f)", done, val_bpb, 8 / val_bpb)
            if dist.main and (done % save_every == 0 or done == args.steps):
                save_checkpoint(out, model, optimizer, settings, args.preset, done, record)
    finally:
        bar.close()
        if log_handle:
            log_handle.close()

    if dist.main:
        history = _read_log(out / LOG_FILE)
        final = {
            **record,
            "steps_done": args.steps,
            "train_seconds_this_run": train_seconds,
            "tokens_per_s_this_run": trained_tokens / train_seconds if train_seconds else None,
            "val_bits_per_byte": val_bpb if val_bpb is not None else _last(history, "val_bits_per_byte"),
            "environment": environment(PACKAGES, device=device),
        }
        save_model(model, settings, out, args.preset, final)
        log.info(
            "saved %s (%d steps; %.0f tokens/s this run)",
            out,
            args.steps,
            final["tokens_per_s_this_run"] or 0,
        )
    return 0


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _last(history: list[dict], key: str) -> Any:
    values = [e[key] for e in history if key in e]
    return values[-1] if values else None


if __name__ == "__main__":
    sys.exit(main())
