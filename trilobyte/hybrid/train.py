"""Train a hybrid model: ``python -m trilobyte.hybrid.train --dataset D [--dataset D2 ...] --out DIR``.

The cascade has no trained parameters: the integer kernel computes the network's inputs once for
every sample of the train split (``--max-samples`` per dataset, clips drawn in a seeded order), and the
network is trained in float (PyTorch, Adam, cosine decay) to minimise the bits of the discretized
logistic mixture, the same bins and escapes the coder uses. The valid split picks the best step. The
best weights are quantized to integers and saved (``model.safetensors`` + ``hybrid.json``); the record
names the datasets, splits and fingerprints trained on. ``DIR/checkpoint.pt`` holds the state every
``--save-every`` steps; the same command resumes from it (``--overwrite`` starts afresh).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
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
from trilobyte.core.leakage import save_training_clips
from trilobyte.hybrid.engine import frame_features, frames
from trilobyte.hybrid.model import HybridModel, ModelError, fixed_weights, quantize
from trilobyte.hybrid.settings import HybridSettings, SettingsError

log = logging.getLogger("trilobyte.hybrid.train")
CHECKPOINT = "checkpoint.pt"
LOG_FILE = "train_log.jsonl"
LN2 = math.log(2.0)


def collect(datasets: list[Dataset], settings: HybridSettings, max_samples: int, seed: int,
            progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Features (int16) and (residual, scale, shift) rows of up to ``max_samples`` samples per dataset."""
    feats, auxes = [], []
    for ds in datasets:
        order = np.random.default_rng([seed, len(ds.refs)]).permutation(len(ds.refs))
        taken = 0
        bar = tqdm(total=max_samples, desc=f"features {ds.key}", unit="smp", disable=not progress, leave=False)
        for index in order:
            if taken >= max_samples:
                break
            clip = ds.load(ds.refs[index])
            for a, b in frames(clip.num_samples, settings.frame_samples):
                f, aux = frame_features(settings, clip.samples[a:b], clip.bit_depth, clip.sample_rate)
                room = max_samples - taken
                if f.shape[0] > room:  # a contiguous piece, so the stride of rows stays natural
                    f, aux = f[:room], aux[:room]
                feats.append(f.astype(np.int16))
                auxes.append(aux)
                taken += f.shape[0]
                bar.update(f.shape[0])
                if taken >= max_samples:
                    break
        bar.close()
    if not feats:
        raise DatasetError("no training samples")
    return np.concatenate(feats), np.concatenate(auxes)


class Network:
    """The float twin of the kernel's network and mixture (torch), for training."""

    def __init__(self, settings: HybridSettings, seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        d, (h1, h2), o = settings.features, settings.hidden, settings.outputs
        self.settings = settings
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(d, h1), torch.nn.ReLU(), torch.nn.Linear(h1, h2), torch.nn.ReLU(), torch.nn.Linear(h2, o)
        )
        start = fixed_weights(settings)
        with torch.no_grad():
            self.layers[4].weight.mul_(0.1)
            self.layers[4].bias.copy_(torch.tensor(start["b3"], dtype=torch.float32))

    def bits(self, feats: Any, aux: Any) -> Any:
        """Bits per sample of each row under the mixture (bins, escapes, uniform low bits)."""
        import torch

        st = self.settings
        out = self.layers(feats.float() / 1024.0)
        k = st.components
        logits = out[:, 0::3][:, :k] * LN2
        mu = out[:, 1::3][:, :k].clamp(-64, 64)
        log_b = out[:, 2::3][:, :k].clamp(-12, 12)
        r, scale, shift = aux[:, 0:1].double(), aux[:, 1:2].double() / 16.0, aux[:, 2:3].double()
        width = torch.exp2(shift)
        centre = mu.double() * scale
        b = torch.clamp(scale * torch.exp2(log_b.double()), min=1.0 / 16.0)
        q = torch.floor(r / width)
        half = st.central_bins
        lo = q * width - 0.5
        hi = (q + 1) * width - 0.5
        below, above = q < -half, q >= half
        lo = torch.where(above, half * width - 0.5, lo)
        hi = torch.where(below, -half * width - 0.5, hi)

        def cdf(edge: Any) -> Any:
            return torch.sigmoid(((edge - centre) / b).clamp(-16, 16))

        mass_k = torch.where(below, cdf(hi), torch.where(above, 1 - cdf(lo), cdf(hi) - cdf(lo)))
        weights = torch.softmax(logits.double(), dim=1)
        mass = (weights * mass_k).sum(dim=1)
        symbols = 2 * half + 2
        mass = mass * (1 - symbols / 2**24) + 1 / 2**24
        return -torch.log2(mass) + shift[:, 0]

    def float_weights(self) -> dict[str, np.ndarray]:
        lin = [self.layers[0], self.layers[2], self.layers[4]]
        out = {}
        for i, layer in enumerate(lin, start=1):
            out[f"w{i}"] = layer.weight.detach().double().numpy().T.copy()
            out[f"b{i}"] = layer.bias.detach().double().numpy().copy()
        return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trilobyte.hybrid.train", description=__doc__.splitlines()[0])
    m = parser.add_argument_group("model")
    m.add_argument(
        "--settings", default="{}", help="JSON of HybridSettings fields to change, e.g. '{\"lpc_order\": 16}'",
    )
    m.add_argument("--fixed", action="store_true",
                   help="train only the output biases (a fixed distribution: the cascade-alone ablation)")
    t = parser.add_argument_group("training")
    t.add_argument("--steps", type=int, default=2000, help="optimizer steps (default: 2000)")
    t.add_argument("--minutes", type=float, default=None, help="stop after this many minutes of training")
    t.add_argument("--batch-size", type=int, default=4096, help="samples per step (default: 4096)")
    t.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: 3e-3)")
    t.add_argument("--max-samples", type=int, default=2_000_000, help="training samples per dataset (default: 2M)")
    t.add_argument("--valid-samples", type=int, default=200_000, help="validation samples per dataset")
    t.add_argument("--eval-every", type=int, default=200, help="validate (and checkpoint) every N steps")
    t.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    add_allow_eval_split(t)
    add_common_args(parser, default_datasets=())
    parser.set_defaults(split="train", out=None)
    return parser


def _datasets(args: argparse.Namespace, split: str) -> list[Dataset]:
    depth = parse_bit_depth(args.bit_depth)
    return [get_dataset(n, root=args.data_root, bit_depth=depth, conversion=args.conversion, split=split,
                        limit=args.limit) for n in args.dataset]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_training_args(parser, args)
    setup_logging(args.verbose)
    try:
        settings = HybridSettings.from_dict({**HybridSettings().to_dict(), **json.loads(args.settings)})
    except (ValueError, TypeError, SettingsError) as err:
        parser.error(f"--settings: {err}")
    try:
        return train(args, settings)
    except (DatasetError, ModelError, ValueError) as err:
        log.error("%s", err)
        return 1


def train(args: argparse.Namespace, settings: HybridSettings) -> int:
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train_sets, valid_sets = _datasets(args, args.split), _datasets(args, "valid")
    progress = not args.no_progress
    feats, aux = collect(train_sets, settings, args.max_samples, args.seed, progress)
    vfeats, vaux = collect(valid_sets, settings, args.valid_samples, args.seed + 1, progress)
    feature_seconds = time.perf_counter() - start
    log.info("%d training and %d validation samples (features in %.1f s)", len(feats), len(vfeats), feature_seconds)
    tf, ta = torch.from_numpy(feats), torch.from_numpy(aux)
    vf, va = torch.from_numpy(vfeats), torch.from_numpy(vaux)

    net = Network(settings, args.seed)
    params = [net.layers[4].bias] if args.fixed else list(net.layers.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    record: dict[str, Any] = {
        "datasets": [{"name": d.name, "split": d.split, "fingerprint": d.fingerprint} for d in train_sets],
        "valid": [{"name": d.name, "split": d.split, "fingerprint": d.fingerprint} for d in valid_sets],
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
        "max_samples": args.max_samples, "fixed": args.fixed, "threads": args.threads,
        "allow_eval_split": bool(args.allow_eval_split),
    }
    step, best, best_weights = 0, math.inf, None
    ckpt = out / CHECKPOINT
    if ckpt.exists() and not args.overwrite:
        state = torch.load(ckpt, weights_only=True)  # tensors and plain containers only: nothing is unpickled
        if state["settings"] != settings.to_dict() or state["record"]["datasets"] != record["datasets"]:
            raise ModelError(f"{ckpt} was made with other settings or data; use --overwrite or another --out")
        net.layers.load_state_dict(state["layers"])
        opt.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best"]
        saved = state["best_weights"]
        best_weights = None if saved is None else {k: v.numpy() for k, v in saved.items()}
        log.info("resuming from %s at step %d", ckpt, step)
    rng = np.random.default_rng([args.seed, step])

    def validate() -> float:
        with torch.no_grad():
            return float(net.bits(vf, va).mean())

    deadline = None if args.minutes is None else time.perf_counter() + 60 * args.minutes
    bar = tqdm(total=args.steps, initial=step, desc="train", unit="step", disable=not progress)
    loss_sum, loss_n = 0.0, 0
    with (out / LOG_FILE).open("a") as log_file:
        while step < args.steps and (deadline is None or time.perf_counter() < deadline):
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
            for group in opt.param_groups:
                group["lr"] = lr
            idx = torch.from_numpy(rng.integers(0, len(tf), args.batch_size))
            loss = net.bits(tf[idx], ta[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            loss_sum, loss_n = loss_sum + float(loss.detach()), loss_n + 1
            bar.update(1)
            if step % args.eval_every == 0 or step == args.steps:
                valid = validate()
                if valid < best:
                    best, best_weights = valid, net.float_weights()
                entry = {"step": step, "train_bits": loss_sum / loss_n, "valid_bits": valid, "lr": lr}
                log_file.write(json.dumps(entry) + "\n")
                log_file.flush()
                bar.set_postfix(train=f"{loss_sum / loss_n:.3f}", valid=f"{valid:.3f}")
                loss_sum, loss_n = 0.0, 0
                torch.save({"layers": net.layers.state_dict(), "optimizer": opt.state_dict(), "step": step,
                            "best": best, "settings": settings.to_dict(),
                            "best_weights": None if best_weights is None else
                            {k: torch.from_numpy(v) for k, v in best_weights.items()},
                            "record": record}, ckpt)
    bar.close()
    valid = validate()
    if valid < best or best_weights is None:
        best, best_weights = valid, net.float_weights()
    record["training_clips"] = save_training_clips(out, train_sets)
    record.update({"trained_steps": step, "valid_bits_per_sample": best, "seconds": time.perf_counter() - start,
                   "feature_seconds": feature_seconds, "environment": environment(("torch", "numba"))})
    model = HybridModel(settings, quantize(best_weights), record)
    model.save(out)
    log.info("saved %s (model %s, %d parameters; valid %.4f bits/sample, %.0f s)", out, model.model_id,
             model.parameters, best, record["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
