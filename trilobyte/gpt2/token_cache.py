"""Training tokens kept on disk and memory-mapped, for datasets too large to hold in memory.

``python -m trilobyte.train --token-cache DIR`` tokenizes each dataset split once into ``DIR``: one
flat file of tokens (every clip's channel streams, one after another) and a JSON index of where each
clip lies. Later runs, and every process of a torchrun job, map that file instead of decoding the
audio again; the operating system pages in only the windows that training reads.

An entry is named by what its tokens depend on: the dataset's fingerprint, the size and modification
time of every source file, and the tokenizer's scheme and depth (channel layout and depth dropout are
applied per window, so they do not change the file). The index is written last, after the tokens
file is complete, so an interrupted build leaves no entry that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from trilobyte.core.datasets import Dataset, DatasetError
from trilobyte.gpt2.tokenize import ClipTokens, TokenizerSettings

log = logging.getLogger("trilobyte.gpt2.token_cache")
CACHE_FORMAT = 1


def entry_key(dataset: Dataset, settings: TokenizerSettings) -> str:
    """Name of a dataset's entry: changes whenever its clips, their files or the tokenizer change."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_FORMAT, dataset.fingerprint, settings.scheme, settings.bit_depth]).encode())
    for ref in dataset.refs:
        try:
            stat = os.stat(ref.path)
            h.update(f"{ref.path}|{stat.st_size}|{stat.st_mtime_ns}|{ref.channel}\n".encode())
        except OSError:
            h.update(f"{ref.path}|missing\n".encode())
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{dataset.name}-{dataset.split}")
    return f"{name}-{h.hexdigest()[:16]}"


def build_entry(dataset: Dataset, settings: TokenizerSettings, index_path: Path, progress: bool = True) -> None:
    """Tokenize every clip of ``dataset`` into the entry of ``index_path`` (tokens first, then the index)."""
    tokens_path = index_path.with_suffix(".tokens")
    partial = index_path.with_suffix(".tokens.partial")
    index_path.parent.mkdir(parents=True, exist_ok=True)
    clips, offset = [], 0
    with partial.open("wb") as handle:
        for clip in tqdm(dataset.clips(), total=len(dataset.refs), desc=f"tokens {dataset.name}",
                         unit="clip", disable=not progress):
            tokens = ClipTokens.from_samples(clip.samples, clip.bit_depth, settings)
            streams = np.ascontiguousarray(tokens.streams, dtype=settings.dtype)
            handle.write(streams.tobytes())
            clips.append({"id": clip.id, "offset": offset, "channels": tokens.channels,
                          "length": int(streams.shape[1]), "depth": clip.bit_depth})
            offset += streams.size
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, tokens_path)
    index = {"format": CACHE_FORMAT, "dataset": dataset.name, "split": dataset.split,
             "fingerprint": dataset.fingerprint, "settings": settings.to_dict(),
             "dtype": np.dtype(settings.dtype).name, "tokens": offset, "clips": clips}
    tmp = index_path.with_name(index_path.name + ".tmp")
    tmp.write_text(json.dumps(index) + "\n")
    os.replace(tmp, index_path)
    log.info("cached %d clips of %s (%s tokens) in %s", len(clips), dataset.name, f"{offset:,}", tokens_path)


def open_entry(index_path: Path, settings: TokenizerSettings) -> list[ClipTokens]:
    """The clips of a finished entry, their token streams mapped read-only from disk."""
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{index_path}: unreadable token cache index ({err}); delete it to rebuild") from err
    tokens_path = index_path.with_suffix(".tokens")
    dtype = np.dtype(settings.dtype)
    expected = int(index["tokens"]) * dtype.itemsize
    size = tokens_path.stat().st_size if tokens_path.exists() else None
    if index.get("format") != CACHE_FORMAT or index.get("dtype") != dtype.name or size != expected:
        raise DatasetError(f"{tokens_path}: token cache entry does not match its index (size {size}, expected"
                           f" {expected}); delete {index_path} and {tokens_path} to rebuild it")
    if not index["clips"]:
        return []
    flat = np.memmap(tokens_path, dtype=dtype, mode="r")
    clips = []
    for clip in index["clips"]:
        start, channels, length = int(clip["offset"]), int(clip["channels"]), int(clip["length"])
        streams = flat[start : start + channels * length].reshape(channels, length)
        clips.append(ClipTokens(streams, int(clip["depth"]), settings))
    return clips


def cached_clip_tokens(
    datasets: list[Dataset],
    settings: TokenizerSettings,
    directory: Path,
    may_build: bool = True,
    progress: bool = True,
    poll_seconds: float = 2.0,
) -> list[ClipTokens]:
    """Every clip of the datasets from the cache in ``directory``, building missing entries first.

    Under torchrun one process builds (``may_build``); the others wait for its index files to appear
    (a poll rather than a collective barrier, which would time out on a build of many hours; if the
    builder fails, torchrun stops the job).
    """
    directory = Path(directory).expanduser()
    paths = []
    for dataset in datasets:
        index_path = directory / f"{entry_key(dataset, settings)}.json"
        if not index_path.exists():
            if may_build:
                build_entry(dataset, settings, index_path, progress)
            else:
                log.info("waiting for another process to cache %s in %s", dataset.name, index_path)
                while not index_path.exists():
                    time.sleep(poll_seconds)
        paths.append(index_path)
    return [clip for index_path in paths for clip in open_entry(index_path, settings)]
