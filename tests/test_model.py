"""Trilobyte models: scoring only real bytes, windows with carried context, training, save/load, estimates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # small models: one thread is fastest, and CI machines are shared

from trilobyte.core import audio  # noqa: E402
from trilobyte.core.datasets import folder_dataset, get_dataset  # noqa: E402
from trilobyte.core.results import ResultStore  # noqa: E402
from trilobyte.gpt2 import estimate, train  # noqa: E402
from trilobyte.gpt2.model import (  # noqa: E402
    PRESETS,
    ModelError,
    build_model,
    count_parameters,
    load_model,
    read_info,
    save_model,
)
from trilobyte.gpt2.scoring import WindowPlan, score_clip, value_nll  # noqa: E402
from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings, is_value  # noqa: E402


def uniform_model(settings: TokenizerSettings, context: int = 64):
    """A GPT-2 with every weight zero: all logits are 0, so each value token costs log2(values) bits."""
    model = build_model("tiny", settings, context=context)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return model.eval()


def real_clip(seconds_of: str, samples: int, depth: int | None = None) -> np.ndarray:
    """The first ``samples`` samples of a demo clip (real audio), at ``depth`` bits (linear)."""
    ds = get_dataset(seconds_of)
    clip = next(c for c in ds.clips() if c.num_samples >= samples)
    out = clip.samples[:samples]
    return out if depth is None else audio.to_linear(out, clip.bit_depth, depth)


@pytest.fixture(scope="module")
def cut_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Short cuts of real speech the model did not train on: two mono clips and one stereo pair."""
    folder = tmp_path_factory.mktemp("cuts")
    clips = [c for split in ("valid", "test") for c in get_dataset("demo-speech48", split=split).clips()]
    a, b = (c.samples[20000:21500, 0] for c in clips)
    audio.write_pcm(folder / "a.wav", a[:, None], 48000, 16)
    audio.write_pcm(folder / "b.wav", b[:700, None], 48000, 16)
    audio.write_pcm(folder / "ab.wav", np.stack([a[:600], b[:600]], axis=1), 48000, 16)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained for 40 steps on real speech (48 kHz, 16-bit)."""
    out = tmp_path_factory.mktemp("model")
    argv = ["--dataset", "demo-speech48", "--preset", "tiny", "--steps", "40", "--out", str(out)]
    assert train.main([*argv, "--eval-every", "20", "--no-progress", "--threads", "1"]) == 0
    return out


def test_presets_have_the_papers_sizes() -> None:
    assert set(PRESETS) == {"tiny", "small", "paper"}
    paper = PRESETS["paper"]
    assert (paper.n_layer, paper.n_embd) == (12, 768)
    # ~90M parameters with the byte vocabulary (the paper's Trilobyte), ~140M at 16-bit sample level
    from trilobyte.gpt2.model import gpt2_config

    for settings, low, high in [
        (TokenizerSettings("bytes", 24), 85e6, 95e6),
        (TokenizerSettings("sample", 16), 130e6, 145e6),
    ]:
        config = gpt2_config("paper", settings)
        with torch.device("meta"):
            from transformers import GPT2LMHeadModel

            model = GPT2LMHeadModel(config)
        assert low < count_parameters(model) < high


def test_masks_and_padding_are_never_scored() -> None:
    """Hand-computed: under a uniform model every real byte costs exactly 8 bits, nothing else counts."""
    settings = TokenizerSettings("bytes", 24)
    model = uniform_model(settings, context=48)
    samples = real_clip("demo-music", 301, depth=16)[:, :1].repeat(2, axis=1)  # stereo, 16-bit
    clip = ClipTokens.from_samples(samples, 16, settings)  # LSB slots are NULL
    assert clip.length == 1 + 301 * 2 * 3
    score = score_clip(model, clip, context=48, stride=24, batch_size=5)  # 75 windows, last one padded
    assert score.counts.tolist() == [602, 602, 0]
    # the first byte too, no NULL, no PAD (float32 log-softmax: log2(256) to 1e-8)
    assert score.total_bits == pytest.approx(8.0 * 301 * 2 * 2, rel=1e-7)
    # the model-level check: NULL targets, had they been scored, would have cost bits as well
    seq = torch.from_numpy(clip.sequence()[:49].astype(np.int64))[None]
    with torch.no_grad():
        nll, scored = value_nll(model, seq, settings)
    assert int(scored.sum()) == 32 and float(nll.sum()) / math.log(2) == pytest.approx(8.0 * 32)


def test_single_window_equals_a_manual_sum_over_real_positions() -> None:
    settings = TokenizerSettings("bytes", 24)
    model = build_model("tiny", settings, context=256, seed=3).eval()
    samples = real_clip("demo-music", 40, depth=16)
    clip = ClipTokens.from_samples(samples, 16, settings)
    seq = clip.sequence()
    with torch.no_grad():
        logits = model(input_ids=torch.from_numpy(seq[:-1].astype(np.int64))[None]).logits[0]
    logp = torch.log_softmax(logits[:, :256].double(), dim=-1).numpy() / math.log(2)
    targets = seq[1:]
    real = is_value(targets, settings)
    manual = -sum(logp[i, targets[i]] for i in np.flatnonzero(real))
    score = score_clip(model, clip, context=256, stride=129)
    assert score.total_bits == pytest.approx(manual, rel=1e-6)
    assert real.sum() == samples.size * 2 and (~real).sum() == samples.size  # one NULL per sample


@pytest.mark.parametrize("stride", [3, 12, 30])
def test_windows_carry_context_and_score_each_byte_once(stride: int) -> None:
    """Every target is scored once, in the window that gives it the most context, as defined."""
    settings = TokenizerSettings("bytes", 24)
    context = 30
    model = build_model("tiny", settings, context=context, seed=1).eval()
    samples = real_clip("demo-24bit", 37)
    clip = ClipTokens.from_samples(samples, 24, settings)
    seq = clip.sequence().astype(np.int64)
    plan = WindowPlan(len(seq), context, stride)
    manual = 0.0
    for t in range(1, len(seq)):  # target t, in window m starting at a: as early as possible past T
        m = 0 if t <= context else math.ceil((t - context) / stride)
        a = m * stride
        assert a < t <= a + context and plan.new_targets(m)[0] <= t - a - 1 < plan.new_targets(m)[1]
        with torch.no_grad():
            logits = model(input_ids=torch.from_numpy(seq[a:t])[None]).logits[0, -1, :256].double()
        manual -= float(torch.log_softmax(logits, -1)[seq[t]]) / math.log(2)
    score = score_clip(model, clip, context=context, stride=stride, batch_size=4)
    assert score.total_bits == pytest.approx(manual, rel=1e-6)


def test_sample_level_models_score_one_token_per_sample() -> None:
    settings = TokenizerSettings("sample", 8)
    model = uniform_model(settings)
    samples = real_clip("demo-speech", 100, depth=8)
    score = score_clip(model, ClipTokens.from_samples(samples, 8, settings), context=64, stride=32)
    assert score.counts.tolist() == [100] and score.total_bits == pytest.approx(8.0 * 100, rel=1e-7)


def test_training_loss_falls_on_real_audio(trained: Path) -> None:
    log = [json.loads(line) for line in (trained / train.LOG_FILE).read_text().splitlines()]
    losses = [e["loss_bits"] for e in log if "loss_bits" in e]
    vals = [e["val_bits_per_byte"] for e in log if "val_bits_per_byte" in e]
    assert len(losses) == 4 and len(vals) == 2
    assert losses[-1] < losses[0] - 0.5 and losses[0] < 8.5
    assert vals[-1] < 7.0  # below the 8 bits of a uniform guess
    info = read_info(trained)
    assert info.training["steps_done"] == 40 and info.training["datasets"][0]["split"] == "train"
    assert (trained / "model.safetensors").exists() and (trained / "checkpoint" / train.STATE_FILE).exists()


def test_reloaded_model_gives_identical_estimates(trained: Path, cut_corpus: Path, tmp_path: Path) -> None:
    estimate._LOADED.clear()
    argv = ["--model", str(trained), "--dataset", str(cut_corpus), "--split", "all", "--no-progress"]
    assert estimate.main([*argv, "--out", str(tmp_path / "a"), "--stride", "64"]) == 0
    estimate._LOADED.clear()  # a fresh load from disk
    assert estimate.main([*argv, "--out", str(tmp_path / "b"), "--stride", "64"]) == 0
    ((_, first),) = ResultStore(tmp_path / "a").all_results()
    ((_, second),) = ResultStore(tmp_path / "b").all_results()
    assert first.mode == "ideal" and first.rate > 1.0 and len(first.ok_files) == 3
    assert [f.compressed_bits for f in first.files] == [f.compressed_bits for f in second.files]
    assert [f.extra["ideal_bits"] for f in first.files] == [f.extra["ideal_bits"] for f in second.files]
    positions = first.extra["bits_per_byte_by_position"]
    assert set(positions) == {"msb", "lsb"} and positions["msb"] < positions["lsb"]
    assert first.model_parameters == read_info(trained).parameters and first.model_bytes > 0
    ideal = sum(f.extra["ideal_bits"] for f in first.files)
    assert first.extra["bits_per_byte"] == pytest.approx(ideal / (first.raw_bits / 8))
    # the in-memory model and the saved one agree
    model, info = load_model(trained)
    clip = next(folder_dataset(cut_corpus).clips())
    direct = score_clip(model, ClipTokens.from_samples(clip.samples, 16, info.settings), info.context, 64)
    assert direct.total_bits == first.files[0].extra["ideal_bits"]


def test_training_resumes_from_its_checkpoint(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    argv = ["--dataset", "demo-speech48", "--preset", "tiny", "--out", str(out), "--no-progress"]
    assert train.main([*argv, "--steps", "10", "--log-every", "5"]) == 0
    assert train.main([*argv, "--steps", "20", "--log-every", "5"]) == 0
    steps = [
        e["step"]
        for e in map(json.loads, (out / train.LOG_FILE).read_text().splitlines())
        if "loss_bits" in e
    ]
    assert steps == [5, 10, 15, 20]
    assert read_info(out).training["steps_done"] == 20
    # other settings in the same folder are refused, not silently mixed
    assert train.main([*argv, "--steps", "30", "--context", "128"]) == 1


def test_transfer_model_takes_8_16_and_24_bit_audio(tmp_path: Path) -> None:
    out = tmp_path / "transfer"
    argv = ["--dataset", "demo-speech48", "--dataset", "demo-24bit", "--preset", "tiny", "--steps", "4"]
    argv += ["--depth-dropout", "8=0.3,16=0.3", "--out", str(out), "--no-progress", "--val-windows", "4"]
    assert train.main(argv) == 0
    info = read_info(out)
    assert info.settings.bit_depth == 24 and info.settings.depth_dropout == ((8, 0.3), (16, 0.3))
    model, _ = load_model(out)
    for depth in (8, 16, 24):
        samples = real_clip("demo-24bit", 50, depth=depth)
        score = score_clip(model, ClipTokens.from_samples(samples, depth, info.settings), info.context, 129)
        assert score.counts.tolist() == [samples.size * (i < depth // 8) for i in range(3)]


def test_bad_models_and_datasets_are_refused(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model folder"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no trilobyte\.json"):
        load_model(tmp_path / "empty")
    out = tmp_path / "r"
    # a 16-bit model cannot code 24-bit audio: refused before any work, with the reason
    assert estimate.main(["--model", str(trained), "--dataset", "demo-24bit", "--out", str(out)]) == 1
    assert not out.exists()
    with pytest.raises(ValueError, match="stride must be"):
        estimate.TrilobyteRate(trained, stride=3)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    settings = TokenizerSettings("bytes", 16, "interleave")
    model = build_model("tiny", settings, seed=5)
    save_model(model, settings, tmp_path, "tiny", {"note": "x"})
    loaded, info = load_model(tmp_path)
    assert info.settings == settings and info.training == {"note": "x"} and info.preset == "tiny"
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_data_parallel_training_under_torchrun_on_cpu(tmp_path: Path) -> None:
    """Two processes (gloo) train one model from a token cache rank 0 builds; rank 0 writes it and the log."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += ["-m", "trilobyte.gpt2.train", "--dataset", "demo-speech48", "--preset", "tiny", "--steps", "10"]
    command += [
        "--out",
        str(out),
        "--no-progress",
        "--threads",
        "1",
        "--log-every",
        "5",
        "--val-windows",
        "8",
        "--token-cache",
        str(tmp_path / "cache"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    info = read_info(out)
    assert info.training["world_size"] == 2 and info.training["steps_done"] == 10
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2  # train and valid split, built once
    log = [json.loads(line) for line in (out / train.LOG_FILE).read_text().splitlines()]
    assert [e["step"] for e in log if "loss_bits" in e] == [5, 10]  # one log, written by rank 0 only
    model, _ = load_model(out)
    assert count_parameters(model) == info.parameters
