"""Training tokens cached on disk and memory-mapped: the same tokens, the same training, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from trilobyte.core import audio  # noqa: E402
from trilobyte.core.datasets import DatasetError, folder_dataset, get_dataset  # noqa: E402
from trilobyte.gpt2 import train  # noqa: E402
from trilobyte.gpt2.token_cache import cached_clip_tokens, entry_key  # noqa: E402
from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings  # noqa: E402


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Real speech cut into a mono 16-bit clip, a stereo 16-bit clip and a mono 24-bit clip."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    speech = next(get_dataset("demo-speech48", split="test").clips()).samples[20000:23000, 0]
    audio.write_pcm(folder / "mono.wav", speech[:1100, None], 48000, 16)
    audio.write_pcm(folder / "stereo.wav", np.stack([speech[:900], speech[1000:1900]], axis=1), 48000, 16)
    audio.write_pcm(folder / "deep.wav", speech[:700, None].astype(np.int32) * 256 + 17, 48000, 24)
    return folder


@pytest.mark.parametrize("settings", [TokenizerSettings("bytes", 24, "concat"),
                                      TokenizerSettings("bytes", 24, "interleave")])
def test_cached_tokens_equal_the_tokens_in_memory(corpus: Path, tmp_path: Path, settings: TokenizerSettings) -> None:
    dataset = folder_dataset(corpus)
    cached = cached_clip_tokens([dataset], settings, tmp_path / "cache")
    fresh = [ClipTokens.from_samples(c.samples, c.bit_depth, settings) for c in dataset.clips()]
    assert len(cached) == len(fresh) == 3
    for a, b in zip(cached, fresh, strict=True):
        assert isinstance(a.streams, np.memmap) and a.clip_depth == b.clip_depth
        np.testing.assert_array_equal(a.streams, b.streams)
        order = list(range(b.channels))[::-1]
        np.testing.assert_array_equal(a.gather(0, b.length + 5, order), b.gather(0, b.length + 5, order))


def test_an_entry_is_built_once_and_rebuilt_when_a_file_changes(corpus: Path, tmp_path: Path) -> None:
    settings = TokenizerSettings("bytes", 16)
    cache = tmp_path / "cache"
    dataset = folder_dataset(corpus).with_bit_depth(16)
    cached_clip_tokens([dataset], settings, cache)
    (index,) = cache.glob("*.json")
    built = index.stat().st_mtime_ns
    cached_clip_tokens([dataset], settings, cache)
    assert index.stat().st_mtime_ns == built and len(list(cache.glob("*.json"))) == 1
    # new content at the same length: a new entry, not the stale tokens
    samples, info = audio.read_pcm(corpus / "mono.wav")
    audio.write_pcm(corpus / "mono.wav", -samples, info.sample_rate, info.bit_depth)
    os.utime(corpus / "mono.wav", ns=(built + 10**9, built + 10**9))
    changed = folder_dataset(corpus).with_bit_depth(16)
    assert entry_key(changed, settings) != index.stem
    clips = cached_clip_tokens([changed], settings, cache)
    mono = next(c for c in changed.clips() if c.id == "mono.wav")
    expected = ClipTokens.from_samples(mono.samples, 16, settings).streams
    assert any(c.streams.shape == expected.shape and np.array_equal(c.streams, expected) for c in clips)


def test_damaged_or_unfinished_entries_are_refused_or_rebuilt(corpus: Path, tmp_path: Path) -> None:
    settings = TokenizerSettings("bytes", 24)
    cache = tmp_path / "cache"
    dataset = folder_dataset(corpus)
    cached_clip_tokens([dataset], settings, cache)
    (index,) = cache.glob("*.json")
    tokens = index.with_suffix(".tokens")
    data = tokens.read_bytes()
    tokens.write_bytes(data[:-2])  # a cut file
    with pytest.raises(DatasetError, match="does not match its index"):
        cached_clip_tokens([dataset], settings, cache)
    index.unlink()  # as an interrupted build leaves it: tokens without an index
    assert len(cached_clip_tokens([dataset], settings, cache)) == 3
    assert tokens.read_bytes() == data
    record = json.loads(index.read_text())
    assert record["fingerprint"] == dataset.fingerprint and record["tokens"] * 2 == len(data)


def test_training_from_the_cache_equals_training_in_memory(tmp_path: Path) -> None:
    def losses(out: Path) -> list[float]:
        return [e["loss_bits"] for e in map(json.loads, (out / train.LOG_FILE).read_text().splitlines())
                if "loss_bits" in e]

    argv = ["--dataset", "demo-speech48", "--preset", "tiny", "--steps", "6", "--log-every", "2",
            "--val-windows", "4", "--threads", "1", "--no-progress"]
    assert train.main([*argv, "--out", str(tmp_path / "memory")]) == 0
    assert train.main([*argv, "--out", str(tmp_path / "mapped"), "--token-cache", str(tmp_path / "cache")]) == 0
    assert len(list((tmp_path / "cache").glob("*.tokens"))) == 2  # the train and the valid split
    assert losses(tmp_path / "mapped") == losses(tmp_path / "memory") and len(losses(tmp_path / "memory")) == 3
