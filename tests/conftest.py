"""Shared fixtures: synthetic signals and small folders of real audio files."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from trilobyte.core import audio

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Property tests (tests/test_properties.py) draw the same examples on every run, so a CI failure repeats;
# HYPOTHESIS_PROFILE=thorough draws ten times as many, fresh each run (a failure prints its example).
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("thorough", max_examples=1000, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def cuda_missing() -> str | None:
    """Why the ``gpu`` tests cannot run here (no torch, or no CUDA device), or None."""
    if importlib.util.find_spec("torch") is None:
        return "needs torch with a CUDA device (torch is not installed)"
    import torch

    return None if torch.cuda.is_available() else "needs a CUDA device (torch.cuda.is_available() is False)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` are skipped, with the reason, where no CUDA device is (torch imported only then)."""
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    reason = cuda_missing() if gpu else None
    for item in gpu if reason else ():
        item.add_marker(pytest.mark.skip(reason=reason))


def synth(num_samples: int, channels: int, bit_depth: int, seed: int = 0) -> np.ndarray:
    """A noisy sine with the full-scale extremes in it: every bit of the depth is exercised."""
    rng = np.random.default_rng(seed)
    top = (1 << (bit_depth - 1)) - 1
    t = np.arange(num_samples)[:, None]
    wave = 0.6 * top * np.sin(2 * np.pi * t * (0.01 + 0.003 * np.arange(channels)))
    noise = rng.normal(0, top * 0.05, size=(num_samples, channels))
    samples = np.clip(np.round(wave + noise), -top - 1, top).astype(np.int32)
    samples[0, :] = -top - 1
    samples[1, :] = top
    return samples


@pytest.fixture
def audio_folder(tmp_path: Path) -> Path:
    """A folder of 8 small 16-bit WAV files in 4 group folders (2 files each)."""
    folder = tmp_path / "corpus"
    for i in range(8):
        sub = folder / f"speaker{i // 2}"
        sub.mkdir(parents=True, exist_ok=True)
        audio.write_pcm(sub / f"clip{i}.wav", synth(4000 + 100 * i, 1, 16, seed=i), 16000, 16)
    return folder
