"""One check of every GPU path, timed, in one table: ``python -m benchmarks.gpu_check``.

On a CUDA machine the defaults are ``--device cuda --preset paper`` (sized for under 8 minutes on one
GPU); elsewhere ``--device cpu --preset tiny`` (well under a minute). Rows:

- training: ``train.train_step`` (AdamW, clipping; bf16 autocast on CUDA) at 8, 16 and 24 bits: steps/s,
  tokens/s, peak memory, and the fraction of the device's bf16 peak, 6 x parameters x tokens/s / peak
  (attention FLOPs not counted);
- the same data-parallel under ``torchrun --nproc-per-node N`` (NCCL) when N > 1 GPUs are present;
- ideal-rate estimation (``scoring.score_clip``, bf16 on CUDA) with the largest batch of windows that fits;
- the GPT-2 codec (``trilobyte.gpt2.codec``, float32 as its exactness needs): encode and decode x realtime on
  16-bit 44.1 kHz stereo, the round trip compared bit for bit;
- the 16-bit sample-level model (65,536-way softmax): step time and memory at the largest batch that fits;
- the in-context LLM (SmolLM2-135M by default): tokens/s of its ideal mode, and the hours the paper's
  protocol (1,000 chunks of 1,024 samples per dataset) would take;
- the hybrid coder, when ``trilobyte.hybrid`` exists.

Weights are random (no trained model is needed for speed); the table says so. Audio is the demo corpus
(``demo-music``, 44.1 kHz 16-bit stereo; 8-bit = its top byte, 24-bit = it plus a random low byte) or,
with ``--audio synth`` or where the corpus is not installed (the header says which), synthesized tones
and noise. Every timed region has warm-up first and is synchronised on CUDA. Exit status: 0 when every
row ran, 1 when any failed (the table is printed either way), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core.table import Col, format_table

ROOT = Path(__file__).resolve().parent.parent
DDP_MARK = "GPU_CHECK_DDP "
GIB = 1 << 30

# Dense bf16 tensor-core peak (no sparsity), TFLOP/s, by a piece of torch.cuda.get_device_name();
# the first match wins, so more specific names come first.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("GB200", 2500.0),
    ("B200", 2250.0),
    ("B100", 1750.0),
    ("GH200", 989.0),
    ("H200", 989.0),
    ("H100 PCIE", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("H800", 989.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("RTX 4090", 165.0),
    ("RTX 6000 ADA", 364.0),
    ("RTX 3090", 71.0),
)


def bf16_peak_flops(device_name: str) -> float | None:
    """The device's dense bf16 peak in FLOP/s, or None when it is not in the table."""
    name = device_name.upper()
    for key, tflops in BF16_PEAK_TFLOPS:
        if key in name:
            return tflops * 1e12
    return None


# -- the in-context LLM baseline, imported in this one place -----------------------------------------


def llm_parts() -> tuple[Any, Any, Callable[..., Any]]:
    """``(llm_models module, BytesMapping, token_bits)`` of the in-context LLM baseline."""
    from baselines.llm_incontext import models as llm_models
    from baselines.llm_incontext.mappings import BytesMapping
    from baselines.llm_incontext.scoring import token_bits

    return llm_models, BytesMapping, token_bits


# -- sizes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each row does for a preset."""

    warmup: int  # untimed steps before every timed training run
    steps: int  # timed training steps
    est_batch: int  # cpu: windows per estimation batch; cuda: the largest tried
    sample_batch: int  # first batch tried for the sample-level model (halved until it fits)
    codec_frame: int  # samples per codec frame
    codec_group: int  # frames per codec batch; the audio is one group of frames
    llm_batch: int
    llm_tokens: int


SIZES = {
    "tiny": Sizes(1, 3, 4, 2, 256, 4, 2, 256),
    "small": Sizes(1, 3, 8, 4, 512, 8, 4, 1024),
    "paper": Sizes(2, 10, 512, 32, 1024, 64, 16, 2048),
}


# -- rows ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    check: str
    result: str
    notes: str = ""
    status: str = "ok"  # ok | skipped | absent | failed
    values: dict[str, float] = field(default_factory=dict)


def failed_row(check: str, err: BaseException) -> Row:
    where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    place = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    return Row(check, f"FAILED: {type(err).__name__}: {err}"[:300], place.strip(" ()"), "failed")


COLUMNS = (Col("check", lambda r: r.check), Col("result", lambda r: r.result),
           Col("notes", lambda r: f"[{r.notes}]" if r.notes else ""))


# -- timing and memory ---------------------------------------------------------------------------------


def is_cuda(device: str) -> bool:
    return device.startswith("cuda")


def synchronize(device: str) -> None:
    if is_cuda(device):
        import torch

        torch.cuda.synchronize(device)


@contextlib.contextmanager
def timed(device: str) -> Iterator[list[float]]:
    """Wall seconds of the block (``box[0]``), synchronised on CUDA at both ends."""
    box = [0.0]
    synchronize(device)
    start = time.perf_counter()
    yield box
    synchronize(device)
    box[0] = time.perf_counter() - start


def reset_peak(device: str) -> None:
    if is_cuda(device):
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: str) -> str:
    if not is_cuda(device):
        return "peak mem n/a on cpu"
    import torch

    return f"peak mem {torch.cuda.max_memory_allocated(device) / GIB:.1f} GiB"


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA's allocator out of memory, or a library (cuBLAS, cuDNN) failing to allocate its workspace."""
    import torch

    if isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and ("out of memory" in text or "ALLOC_FAILED" in text)


def free_memory(device: str) -> None:
    if is_cuda(device):
        import gc

        import torch

        gc.collect()
        torch.cuda.empty_cache()


def flops_share(parameters: int, tokens_per_s: float, peak: float | None, devices: int = 1) -> str:
    if peak is None:
        return "unknown peak"
    return f"{100 * 6 * parameters * tokens_per_s / (peak * devices):.1f}% of bf16 peak"


# -- audio --------------------------------------------------------------------------------------------


def synth_audio(seconds: float, rate: int = 44100, seed: int = 0) -> np.ndarray:
    """Tones, a sweep and noise: 16-bit stereo integer PCM ``(n, 2)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * (300 + 200 * t) * t)
    right = 0.3 * np.sin(2 * np.pi * 330 * t + 0.5) + 0.1 * np.sin(2 * np.pi * 55 * t)
    audio = np.stack([left, right], axis=1) + rng.normal(0, 0.02, (t.size, 2))
    return np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int32)


def music_audio(seconds: float, source: str) -> tuple[np.ndarray, str]:
    """About ``seconds`` of 16-bit 44.1 kHz stereo PCM, and where it came from."""
    if source == "demo":
        from trilobyte.core.datasets import DatasetError, get_dataset

        try:
            parts, total = [], 0
            for clip in get_dataset("demo-music").clips():
                if clip.sample_rate == 44100 and clip.bit_depth == 16 and clip.samples.shape[1] == 2:
                    parts.append(clip.samples.astype(np.int32))
                    total += clip.num_samples
                    if total >= seconds * 44100:
                        break
            if not parts:
                raise DatasetError("demo-music holds no 44.1 kHz 16-bit stereo clip")
            return np.concatenate(parts), "demo-music (44.1 kHz 16-bit stereo)"
        except (DatasetError, OSError) as err:
            return synth_audio(seconds), f"synthesized (demo-music unavailable: {err})"
    return synth_audio(seconds), "synthesized tones and noise (--audio synth)"


def at_depth(samples16: np.ndarray, depth: int, seed: int = 0) -> np.ndarray:
    """16-bit PCM as ``depth``-bit: the top byte (8), itself (16), or with a random low byte (24)."""
    if depth == 8:
        return samples16 >> 8
    if depth == 16:
        return samples16
    low = np.random.default_rng(seed).integers(0, 256, samples16.shape, dtype=np.int32)
    return (samples16 << 8) | low


def tiled(samples: np.ndarray, num_samples: int) -> np.ndarray:
    reps = -(-num_samples // samples.shape[0])
    return np.tile(samples, (reps, 1))[:num_samples]


# -- the checks ---------------------------------------------------------------------------------------


@dataclass
class Context:
    device: str
    preset: str
    sizes: Sizes
    audio: np.ndarray  # 16-bit 44.1 kHz stereo
    peak: float | None
    workdir: Path
    llm_model: str
    llm_dtype: str
    seed: int = 0


def autocast_dtype(device: str) -> Any:
    """bf16 on CUDA, as training does by default; None (float32) on the CPU."""
    import torch

    return torch.bfloat16 if is_cuda(device) else None


def time_training(
    model: Any, settings: Any, clips: Sequence[Any], batch: int, context: int, ctx: Context
) -> tuple[float, float]:
    """Seconds per step and tokens per second of ``train_step`` after warm-up steps."""
    import torch

    from trilobyte.gpt2.model import PRESETS
    from trilobyte.gpt2.train import WindowSampler, make_optimizer, train_step

    device = ctx.device
    model.zero_grad(set_to_none=True)
    sampler = WindowSampler(clips, context + 1)
    optimizer = make_optimizer(model, PRESETS[ctx.preset].learning_rate, 0.1, fused=is_cuda(device))
    rng = np.random.default_rng(ctx.seed)

    def step() -> None:
        train_step(
            model,
            optimizer,
            lambda: torch.from_numpy(sampler.draw(rng, batch)).to(device),
            settings,
            device=device,
            autocast_dtype=autocast_dtype(device),
        )

    for _ in range(ctx.sizes.warmup):
        step()
    with timed(device) as seconds:
        for _ in range(ctx.sizes.steps):
            step()
    return seconds[0] / ctx.sizes.steps, ctx.sizes.steps * batch * context / seconds[0]


def train_row(ctx: Context, depth: int) -> Row:
    """Training at ``depth`` bits: the preset's batch, or the largest half of it that fits."""
    from trilobyte.gpt2.model import PRESETS, build_model, count_parameters
    from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings

    preset = PRESETS[ctx.preset]
    settings = TokenizerSettings("bytes", depth)
    clips = [ClipTokens.from_samples(at_depth(ctx.audio, depth), depth, settings)]
    model = build_model(ctx.preset, settings, seed=ctx.seed).to(ctx.device).train()
    parameters = count_parameters(model)
    found: dict[int, tuple[float, float, str]] = {}

    def attempt(batch: int) -> None:
        reset_peak(ctx.device)
        found[batch] = (*time_training(model, settings, clips, batch, preset.context, ctx), peak_memory(ctx.device))

    batch = largest_batch(attempt, preset.batch_size, ctx.device, grow=False)
    step_s, rate, memory = found[batch]
    notes = f"batch {batch} x {preset.context} tokens, {parameters / 1e6:.1f}M parameters"
    if batch < preset.batch_size:
        notes += f"; the preset's batch {preset.batch_size} did not fit"
    if not is_cuda(ctx.device):
        notes += "; bf16 autocast skipped on cpu (fp32 figure)"
    return Row(
        f"train {depth}-bit {'bf16' if is_cuda(ctx.device) else 'fp32'}",
        f"{1 / step_s:.2f} steps/s, {rate:,.0f} tokens/s, {flops_share(parameters, rate, ctx.peak)}, {memory}",
        notes,
        values={"steps_per_s": 1 / step_s, "tokens_per_s": rate, "parameters": parameters, "batch": batch},
    )


def check_training(ctx: Context) -> list[Row]:
    rows = []
    for depth in (8, 16, 24):
        try:
            rows.append(train_row(ctx, depth))
        except Exception as err:  # one failed row; the check goes on
            rows.append(failed_row(f"train {depth}-bit", err))
        free_memory(ctx.device)
    return rows


def check_ddp(ctx: Context, args: argparse.Namespace) -> list[Row]:
    check = "train 16-bit DDP"
    import torch

    count = args.ddp or (torch.cuda.device_count() if is_cuda(ctx.device) else 0)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(count)]
    command += ["-m", "benchmarks.gpu_check", "--ddp-worker", "--device", ctx.device.split(":")[0]]
    command += ["--preset", ctx.preset, "--audio", args.audio]
    shown = (
        "with N > 1 GPUs this row runs torchrun --standalone --nproc-per-node N -m benchmarks.gpu_check"
        " --ddp-worker; --ddp N forces it (gloo on cpu)"
    )
    if not args.ddp:
        if not is_cuda(ctx.device):
            return [Row(check, "skipped on cpu (NCCL is the GPU path)", shown, "skipped")]
        if count < 2:
            return [Row(check, f"skipped: {count} GPU here, needs more than 1", shown, "skipped")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=args.ddp_timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith(DDP_MARK)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"torchrun exited {done.returncode}: {' | '.join(tail)}")
    found = json.loads(lines[-1][len(DDP_MARK) :])
    rate, world, parameters = found["tokens_per_s"], found["world"], found["parameters"]
    backend = "nccl" if is_cuda(ctx.device) else "gloo"
    return [
        Row(
            f"train 16-bit DDP x{world}",
            f"{found['steps_per_s']:.2f} steps/s, {rate:,.0f} tokens/s in all,"
            f" {flops_share(parameters, rate, ctx.peak, world)}, {found['peak_memory']} on rank 0",
            f"{backend}; batch {found['batch']} x {found['context']} tokens per process;"
            f" python {' '.join(command[1:])}",
            values={"steps_per_s": found["steps_per_s"], "tokens_per_s": rate, "world": world},
        )
    ]


def ddp_worker(args: argparse.Namespace) -> int:
    """One process of the torchrun job that ``check_ddp`` starts: DDP training steps, figures from rank 0."""
    import torch
    import torch.distributed as torch_dist
    from torch.nn.parallel import DistributedDataParallel

    from trilobyte.gpt2.model import PRESETS, build_model, count_parameters
    from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings
    from trilobyte.gpt2.train import WindowSampler, init_distributed, make_optimizer, train_step

    device = args.device
    dist = init_distributed(device)
    if is_cuda(device):
        device = f"cuda:{dist.local_rank}"
        torch.cuda.set_device(torch.device(device))
    preset, sizes = PRESETS[args.preset], SIZES[args.preset]
    audio, _ = music_audio(30, args.audio)
    settings = TokenizerSettings("bytes", 16)
    sampler = WindowSampler([ClipTokens.from_samples(audio, 16, settings)], preset.context + 1)
    model = build_model(args.preset, settings, seed=0).to(device).train()
    net = DistributedDataParallel(model, device_ids=[dist.local_rank] if is_cuda(device) else None)
    optimizer = make_optimizer(model, preset.learning_rate, 0.1, fused=is_cuda(device))
    rng = np.random.default_rng([0, dist.rank])
    reset_peak(device)

    def step() -> None:
        train_step(
            net,
            optimizer,
            lambda: torch.from_numpy(sampler.draw(rng, preset.batch_size)).to(device),
            settings,
            device=device,
            autocast_dtype=autocast_dtype(device),
            distributed=True,
        )

    for _ in range(sizes.warmup):
        step()
    torch_dist.barrier()
    with timed(device) as seconds:
        for _ in range(sizes.steps):
            step()
    if dist.main:
        tokens = sizes.steps * preset.batch_size * preset.context * dist.world
        found = {
            "world": dist.world,
            "steps_per_s": sizes.steps / seconds[0],
            "tokens_per_s": tokens / seconds[0],
            "parameters": count_parameters(model),
            "batch": preset.batch_size,
            "context": preset.context,
            "peak_memory": peak_memory(device),
        }
        print(DDP_MARK + json.dumps(found), flush=True)
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    return 0


def fits(try_batch: Callable[[int], None], batch: int, device: str) -> bool:
    """Whether ``try_batch(batch)`` runs without running out of CUDA memory (other errors propagate)."""
    try:
        try_batch(batch)
        ok = True
    except Exception as err:
        if not (is_cuda(device) and is_out_of_memory(err)):
            raise
        ok = False
    free_memory(device)  # outside the except block: the traceback no longer holds the failed step's tensors
    return ok


def largest_batch(try_batch: Callable[[int], None], first: int, device: str, grow: bool) -> int:
    """The largest batch that runs: doubling up to ``first`` (``grow``) or halving from it, on CUDA memory."""
    if not grow:
        batch = first
        while not fits(try_batch, batch, device):
            if batch == 1:
                raise RuntimeError("not even a batch of 1 fits in device memory")
            batch //= 2
        return batch
    good, batch = 0, 1
    while batch <= first and fits(try_batch, batch, device):
        good, batch = batch, batch * 2
    if good == 0:
        raise RuntimeError("not even one window fits in device memory")
    return good


def check_estimation(ctx: Context) -> list[Row]:
    import torch

    from trilobyte.gpt2.model import PRESETS, build_model
    from trilobyte.gpt2.scoring import default_stride, score_clip, value_nll
    from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings

    preset = PRESETS[ctx.preset]
    settings = TokenizerSettings("bytes", 16)
    model = build_model(ctx.preset, settings, seed=ctx.seed).to(ctx.device).eval()
    context, stride = preset.context, default_stride(preset.context, settings)
    cast = autocast_dtype(ctx.device)

    def forward(batch: int) -> None:
        tokens = torch.randint(0, 256, (batch, context + 1), device=ctx.device)
        with (
            torch.inference_mode(),
            torch.autocast(torch.device(ctx.device).type, dtype=cast, enabled=cast is not None),
        ):
            value_nll(model, tokens, settings)
        synchronize(ctx.device)

    if is_cuda(ctx.device):
        batch = largest_batch(forward, ctx.sizes.est_batch, ctx.device, grow=True)
        how = f"largest batch that fits (tried powers of 2 up to {ctx.sizes.est_batch})"
    else:
        batch, how = ctx.sizes.est_batch, "fixed batch (the search for the largest runs on cuda)"
    free_memory(ctx.device)

    def clip_of(windows: int) -> Any:
        samples = (windows * stride + context) // 4 + 1  # 4 tokens a stereo 16-bit sample
        return ClipTokens.from_samples(tiled(ctx.audio, samples), 16, settings)

    def score(clip: Any) -> None:
        score_clip(model, clip, context, stride, batch_size=batch, device=ctx.device, autocast_dtype=cast)

    score(clip_of(batch))  # warm-up
    clip = clip_of(2 * batch)
    reset_peak(ctx.device)
    with timed(ctx.device) as seconds:
        score(clip)
    rate = (clip.length - 1) / seconds[0]
    dtype = "bf16" if cast is not None else "fp32 (bf16 autocast skipped on cpu)"
    return [
        Row(
            "estimate 16-bit ideal rate",
            f"{rate:,.0f} tokens/s at batch {batch}, {peak_memory(ctx.device)}",
            f"{how}; windows of {context}, stride {stride}, {dtype}",
            values={"tokens_per_s": rate, "batch": batch},
        )
    ]


def check_codec(ctx: Context) -> list[Row]:
    from trilobyte.gpt2 import codec
    from trilobyte.gpt2.model import build_model, save_model
    from trilobyte.gpt2.tokenize import TokenizerSettings

    settings = TokenizerSettings("bytes", 16)
    folder = save_model(build_model(ctx.preset, settings, seed=ctx.seed), settings, ctx.workdir / "codec", ctx.preset)
    loaded = codec.get_model(folder, ctx.device)
    frame, group = ctx.sizes.codec_frame, ctx.sizes.codec_group
    coding = codec.CodecSettings(frame, group, 1, device=ctx.device)
    warm = codec.CodecSettings(16, group, 1, device=ctx.device)
    samples = tiled(ctx.audio, frame * group)
    seconds = samples.shape[0] / 44100
    data = codec.encode(samples[: 16 * group], 44100, 16, loaded, warm).data  # warm-up: model, kernels, probe
    codec.decode(data, loaded)
    with timed(ctx.device) as enc_s:
        encoded = codec.encode(samples, 44100, 16, loaded, coding)
    with timed(ctx.device) as dec_s:
        decoded, _ = codec.decode(encoded.data, loaded)
    exact = decoded.shape == samples.shape and bool(np.array_equal(decoded, samples))
    tokens = samples.size * 2 + group
    size = 8 * len(encoded.data) / (samples.size * 16)
    notes = (
        f"{seconds:.2f} s of 44.1 kHz 16-bit stereo, {group} frames of {frame} samples in one batch, float32"
        f" (the codec's exact path); random-init weights, so size {size:.3f} of raw"
    )
    status = "ok" if exact else "failed"
    trip = "round trip bit-exact" if exact else "FAILED: round trip differs"
    return [
        Row(
            "codec encode",
            f"{seconds / enc_s[0]:.3f}x realtime, {tokens / enc_s[0]:,.0f} tokens/s",
            notes,
            status,
            values={"x_realtime": seconds / enc_s[0]},
        ),
        Row(
            "codec decode",
            f"{seconds / dec_s[0]:.3f}x realtime, {tokens / dec_s[0]:,.0f} tokens/s; {trip}",
            "",
            status,
            values={"x_realtime": seconds / dec_s[0], "exact": float(exact)},
        ),
    ]


def check_sample_level(ctx: Context) -> list[Row]:
    from trilobyte.gpt2.model import PRESETS, build_model, count_parameters
    from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings

    preset = PRESETS[ctx.preset]
    settings = TokenizerSettings("sample", 16)
    clips = [ClipTokens.from_samples(ctx.audio, 16, settings)]
    model = build_model(ctx.preset, settings, seed=ctx.seed).to(ctx.device).train()
    parameters = count_parameters(model)
    found: dict[int, tuple[float, float, str]] = {}

    def attempt(batch: int) -> None:
        reset_peak(ctx.device)
        found[batch] = (*time_training(model, settings, clips, batch, preset.context, ctx), peak_memory(ctx.device))

    batch = largest_batch(attempt, ctx.sizes.sample_batch, ctx.device, grow=False)
    step_s, rate, memory = found[batch]
    how = "first batch that fits, halving" if is_cuda(ctx.device) else "fixed batch on cpu"
    dtype = "bf16" if is_cuda(ctx.device) else "fp32, bf16 autocast skipped on cpu"
    return [
        Row(
            "sample-level 16-bit train",
            f"{1000 * step_s:,.0f} ms/step, {rate:,.0f} tokens/s, {memory}",
            f"65,539-token vocabulary, {parameters / 1e6:.1f}M parameters, batch {batch} x {preset.context}"
            f" ({how}), {dtype}",
            values={"step_s": step_s, "tokens_per_s": rate, "batch": batch},
        )
    ]


def check_llm(ctx: Context) -> list[Row]:
    import torch

    from trilobyte.core.datasets import REGISTRY

    llm_models, bytes_mapping, token_bits = llm_parts()
    if ctx.llm_model == "tiny-random":
        from tests.llm_tiny import llama_tokenizer, save_tiny_llama

        folder = save_tiny_llama(ctx.workdir / "tiny-llama", llama_tokenizer())
        source = llm_models.resolve_model(str(folder))
        label = "a tiny random 2-layer Llama (the tests' model), not SmolLM2"
    else:
        source = llm_models.resolve_model(ctx.llm_model)
        label = ctx.llm_model
    model, tokenizer = llm_models.load_model(source, ctx.device, ctx.llm_dtype)
    bos = llm_models.bos_token_id(tokenizer)
    table = np.asarray(bytes_mapping(tokenizer).table.ids)
    rng = np.random.default_rng(ctx.seed)
    rows_, length = ctx.sizes.llm_batch, ctx.sizes.llm_tokens
    batch = [table[rng.integers(0, 256, length)].tolist() for _ in range(rows_)]
    token_bits(model, batch, bos, rows_)  # warm-up
    with timed(ctx.device) as seconds:
        token_bits(model, batch, bos, rows_)
    rate = rows_ * length / seconds[0]
    params = sum(p.numel() for p in model.parameters())
    out = [
        Row(
            "in-context LLM ideal",
            f"{rate:,.0f} tokens/s",
            f"{label}, {params:,} parameters, {ctx.llm_dtype}, batch {rows_} x {length} byte tokens,"
            f" torch {torch.get_num_threads()} threads",
            values={"tokens_per_s": rate},
        )
    ]
    by_depth: dict[int, list[str]] = {}
    for name, spec in REGISTRY.items():
        if not spec.demo and spec.bit_depth is not None:
            by_depth.setdefault(spec.bit_depth, []).append(name)
    for depth, names in sorted(by_depth.items()):
        tokens = 1000 * 1024 * depth // 8
        hours = tokens / rate / 3600
        out.append(
            Row(
                f"in-context LLM {depth}-bit protocol",
                f"{hours:.3f} h per dataset (1,000 chunks x 1,024 samples, {tokens:,} tokens, ideal mode)",
                ", ".join(names),
                values={"hours": hours},
            )
        )
    return out


def check_hybrid(ctx: Context) -> list[Row]:
    """The hybrid coder's encode and decode speed (it runs on the CPU by design: integer kernels)."""
    if importlib.util.find_spec("trilobyte.hybrid") is None:
        return [Row("hybrid coder", "not present (no trilobyte.hybrid in this checkout)", "", "absent")]
    import tempfile

    from trilobyte.hybrid.codec import decode, encode
    from trilobyte.hybrid.model import HybridModel, fixed_weights, quantize
    from trilobyte.hybrid.settings import HybridSettings

    settings = HybridSettings()
    samples = tiled(ctx.audio, 44100 * 2)
    with tempfile.TemporaryDirectory() as folder:
        HybridModel(settings, quantize(fixed_weights(settings)), {"note": "fixed distribution, untrained"}).save(folder)
        encode(samples[:4096], 44100, 16, folder)  # compiles the kernels
        with timed("cpu") as enc_s:
            encoded = encode(samples, 44100, 16, folder)
        with timed("cpu") as dec_s:
            decoded, _ = decode(encoded.data, folder)
    exact = bool(np.array_equal(decoded, samples))
    return [
        Row(
            "hybrid coder",
            f"encode {2 / enc_s[0]:.2f}x, decode {2 / dec_s[0]:.2f}x realtime;"
            f" {'round trip bit-exact' if exact else 'FAILED: round trip differs'}",
            "2 s of 44.1 kHz 16-bit stereo on one CPU core; untrained network (fixed distribution): speed only",
            "ok" if exact else "failed",
            values={"encode_x_realtime": 2 / enc_s[0], "decode_x_realtime": 2 / dec_s[0]},
        )
    ]


# -- the command --------------------------------------------------------------------------------------


SECTIONS = ("train", "ddp", "estimate", "codec", "sample", "llm", "hybrid")


def header_lines(device: str, preset: str, audio_source: str) -> list[str]:
    import torch

    from trilobyte.core.environment import cpu_name

    if is_cuda(device):
        index = torch.device(device).index or 0
        name = torch.cuda.get_device_name(index)
        count = torch.cuda.device_count()
        memory = torch.cuda.get_device_properties(index).total_memory / GIB
        where = f"{name} ({memory:.0f} GiB; {count} GPU(s) visible)"
    else:
        where = f"cpu: {cpu_name()}, {torch.get_num_threads()} torch threads"
    peak = bf16_peak_flops(name) if is_cuda(device) else None
    return [
        f"device: {where}",
        f"torch {torch.__version__}, CUDA {torch.version.cuda or 'none (CPU build)'}, cuDNN"
        f" {torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else 'none'}",
        f"bf16 peak: {f'{peak / 1e12:.0f} TFLOP/s' if peak else 'unknown peak'}; preset {preset};"
        " random-init weights throughout (no trained model: speed only)",
        f"audio: {audio_source}",
    ]


def build_parser() -> argparse.ArgumentParser:
    import torch

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if cuda else "cpu", help="cuda or cpu (default: cuda if present)")
    parser.add_argument(
        "--preset", choices=list(SIZES), default=None, help="model size (default: paper on cuda, tiny on cpu)"
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"rows to run, comma-separated ({','.join(SECTIONS)})"
    )
    parser.add_argument("--audio", choices=["demo", "synth"], default="demo", help="demo corpus or synthesized")
    parser.add_argument(
        "--llm-model", default=None, help="in-context model (default: smollm2-135m; tiny-random with --preset tiny)"
    )
    parser.add_argument("--llm-dtype", default="float32", help="in-context model dtype (default: float32)")
    parser.add_argument("--ddp", type=int, default=0, metavar="N", help="run the DDP row with N processes anyway")
    parser.add_argument("--ddp-timeout", type=int, default=300, help="seconds the DDP row may take (default: 300)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    parser = build_parser()
    args = parser.parse_args(argv)
    if is_cuda(args.device) and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device here (use --device cpu)")
    if not is_cuda(args.device) and args.device != "cpu":
        parser.error(f"--device must be cuda[:N] or cpu, not {args.device!r}")
    args.preset = args.preset or ("paper" if is_cuda(args.device) else "tiny")
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown rows {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.ddp_worker:
        return ddp_worker(args)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if is_cuda(args.device):
        torch.cuda.set_device(torch.device(args.device))
    audio, audio_source = music_audio(30, args.audio)
    peak = (
        bf16_peak_flops(torch.cuda.get_device_name(torch.device(args.device).index or 0))
        if is_cuda(args.device)
        else None
    )
    llm_model = args.llm_model or ("tiny-random" if args.preset == "tiny" else "smollm2-135m")
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        ctx = Context(args.device, args.preset, SIZES[args.preset], audio, peak, Path(tmp), llm_model, args.llm_dtype)
        checks: dict[str, Callable[[], list[Row]]] = {
            "train": lambda: check_training(ctx),
            "ddp": lambda: check_ddp(ctx, args),
            "estimate": lambda: check_estimation(ctx),
            "codec": lambda: check_codec(ctx),
            "sample": lambda: check_sample_level(ctx),
            "llm": lambda: check_llm(ctx),
            "hybrid": lambda: check_hybrid(ctx),
        }
        for name in sections:
            try:
                rows.extend(checks[name]())
            except Exception as err:  # one failed row; the check goes on
                rows.append(failed_row(name, err))
            free_memory(args.device)
    lines = header_lines(args.device, args.preset, audio_source)
    print("\n".join(lines))
    print(format_table(rows, COLUMNS))
    print(f"({time.perf_counter() - started:.0f} s in all)")
    if args.json:
        args.json.write_text(json.dumps({"header": lines, "rows": [asdict(r) for r in rows]}, indent=1) + "\n")
    return 1 if any(r.status == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
