"""The Trilobyte codec: integer PCM <-> a ``.trb`` file, arithmetic-coded under a trained model.

A file is cut into frames of ``frame_samples`` samples (all channels). Each frame is tokenized on its
own (``[BOS]`` + its bytes, channels in file order) and range-coded into its own payload, so a frame
never needs another frame's audio. Frames are computed ``group_frames`` at a time as one batch of
the model (:class:`trilobyte.gpt2.stepper.KVStepper`): every sequence of the group advances one token per
step, with a key/value cache, over windows of the model's context that start every ``stride``
tokens (as the ideal-rate estimator reads them, so the coded size tracks the ideal one).

Exactness. The encoder computes every probability by the decoder's own path: the same groups
(batch composition), the same window prefills and single-token steps, the same torch thread count,
float32 on the same kind of device. The container records that shape (frames per group, threads,
stride, engine), so running more groups at once, in processes or threads, never changes a single
computation. Logits become integer tables by one platform-independent function
(:func:`trilobyte.gpt2.entropy.probability_table`). A fingerprint of the model's logits on a fixed probe,
computed by the encoder and stored in the file, is recomputed before decoding: a machine that
computes differently is refused up front, and each frame's PCM CRC32 plus the file's MD5 catch
anything the probe does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core import container
from trilobyte.core.hashing import file_sha256
from trilobyte.gpt2 import entropy, stepper
from trilobyte.gpt2.model import SETTINGS_FILE, WEIGHTS_FILE, ModelInfo, load_model, read_info
from trilobyte.gpt2.scoring import LN2, WindowPlan, check_stride, default_stride
from trilobyte.gpt2.tokenize import ClipTokens, TokenizeError, TokenizerSettings, is_value
from trilobyte.gpt2.tokenize import decode as tokens_to_samples

log = logging.getLogger("trilobyte.gpt2.codec")
PARALLEL = ("process", "thread")
SUFFIX = ".trb"
MAX_CHANNELS = 8


class CodecError(ValueError):
    """Audio or a file that cannot be coded, or a decode that would not be exact; says why."""


@dataclass(frozen=True)
class CodecSettings:
    """The computation's shape, fixed at encoding and recorded in the file.

    ``frame_samples``: samples (per channel) in a frame; ``group_frames``: frames computed as one batch;
    ``threads``: torch threads per group; ``stride``: tokens between window starts (default: half the
    context, whole samples).
    """

    frame_samples: int = 4096
    group_frames: int = 16
    threads: int = 1
    stride: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.frame_samples < 1:
            raise CodecError(f"frame samples must be positive, not {self.frame_samples}")
        if self.group_frames < 1:
            raise CodecError(f"frames per group must be positive, not {self.group_frames}")
        if self.threads < 1:
            raise CodecError(f"threads must be positive, not {self.threads}")


# -- the model and its identity ------------------------------------------------------------------


def model_identity(directory: Path | str) -> dict[str, Any]:
    """What names a model in a file: SHA-256 of its weights, and one id over weights, config and tokenizer."""
    directory = Path(directory)
    info = read_info(directory)
    weights = file_sha256(directory / WEIGHTS_FILE)
    config = json.loads((directory / "config.json").read_text())
    keep = (
        "vocab_size",
        "n_positions",
        "n_embd",
        "n_layer",
        "n_head",
        "activation_function",
        "layer_norm_epsilon",
        "scale_attn_weights",
        "scale_attn_by_inverse_layer_idx",
        "tie_word_embeddings",
    )
    shape = {k: config.get(k) for k in keep}
    blob = json.dumps({"weights": weights, "config": shape, "tokenizer": info.settings.to_dict()}, sort_keys=True)
    return {
        "id": hashlib.sha256(blob.encode()).hexdigest()[:32],
        "weights_sha256": weights,
        "preset": info.preset,
        "context": info.context,
        "parameters": info.parameters,
    }


@dataclass
class LoadedModel:
    """A model folder loaded for entropy."""

    directory: Path
    device: str = "cpu"

    @cached_property
    def info(self) -> ModelInfo:
        return read_info(self.directory)

    @cached_property
    def identity(self) -> dict[str, Any]:
        return model_identity(self.directory)

    @cached_property
    def model(self) -> Any:
        return load_model(self.directory, self.device)[0]

    @property
    def settings(self) -> TokenizerSettings:
        return self.info.settings


_MODELS: dict[tuple[str, str], LoadedModel] = {}


def get_model(directory: Path | str, device: str = "cpu") -> LoadedModel:
    """One loaded model per (folder, device) in each process."""
    directory = Path(directory).expanduser()
    if not (directory / SETTINGS_FILE).exists():
        read_info(directory)  # raises the model layer's clear error
    key = (str(directory.resolve()), device)
    if key not in _MODELS:
        _MODELS[key] = LoadedModel(directory, device)
    return _MODELS[key]


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with exactly ``threads`` torch CPU threads (restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -- audio bytes and checksums -------------------------------------------------------------------


def frame_bounds(num_samples: int, frame_samples: int) -> list[tuple[int, int]]:
    return [(a, min(num_samples, a + frame_samples)) for a in range(0, num_samples, frame_samples)]


def frame_layout(
    length: int, channels: int, bit_depth: int, settings: TokenizerSettings
) -> tuple[np.ndarray, np.ndarray]:
    """A frame's token template (BOS, NULL slots; values zero) and where its value tokens are."""
    zeros = np.zeros((length, channels), dtype=np.int32)
    sequence = ClipTokens.from_samples(zeros, bit_depth, settings).sequence().astype(np.int64)
    return sequence, is_value(sequence, settings)


# -- one group of frames, by the one path both sides share ------------------------------------------


class _Encoder:
    """Codes the known symbols of a group; collects each frame's tables per window, then range-codes them."""

    def __init__(self, sequences: np.ndarray) -> None:
        self.sequences = sequences
        rows = sequences.shape[0]
        self.coders = [entropy.RangeEncoder() for _ in range(rows)]
        self.pending: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(rows)]
        self.info_bits = np.zeros(rows)
        self.ideal_bits = np.zeros(rows)

    def step(self, position: int, rows: np.ndarray, logits: np.ndarray) -> None:
        tables = entropy.probability_table(logits)
        symbols = self.sequences[rows, position]
        picked = np.arange(rows.size)
        shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
        log_total = np.log(np.exp(shifted).sum(axis=1))
        ideal = (log_total - shifted[picked, symbols]) / LN2
        info = entropy.PRECISION - np.log2(tables[picked, symbols].astype(np.float64))
        for r, row in enumerate(rows):
            self.pending[row].append((int(symbols[r]), tables[r]))
            self.ideal_bits[row] += ideal[r]
            self.info_bits[row] += info[r]

    def end_window(self) -> None:
        for row, items in enumerate(self.pending):
            if items:
                symbols = np.array([s for s, _ in items], dtype=np.int32)
                self.coders[row].encode(symbols, np.stack([t for _, t in items]))
                items.clear()


class _Decoder:
    """Decodes each frame's symbols from its own payload, filling in the group's token sequences."""

    def __init__(self, sequences: np.ndarray, payloads: Sequence[bytes], first_frame: int) -> None:
        self.sequences = sequences
        self.first_frame = first_frame
        self.coders = []
        for i, payload in enumerate(payloads):
            try:
                self.coders.append(entropy.RangeDecoder(payload))
            except (entropy.CodingError, ValueError) as err:
                raise CodecError(f"frame {first_frame + i}: {err}") from err

    def step(self, position: int, rows: np.ndarray, logits: np.ndarray) -> None:
        tables = entropy.probability_table(logits)
        for r, row in enumerate(rows):
            try:
                symbol = self.coders[row].decode(tables[r : r + 1])[0]
            except entropy.CodingError as err:
                raise CodecError(f"frame {self.first_frame + row}: {err}") from err
            self.sequences[row, position] = symbol

    def end_window(self) -> None:
        pass


def run_group(
    model: Any,
    settings: TokenizerSettings,
    stride: int,
    sequences: np.ndarray,
    values: np.ndarray,
    coder: _Encoder | _Decoder,
    device: str = "cpu",
) -> None:
    """Advance a group's sequences ``(frames, tokens)`` window by window, one token per step, through ``coder``.

    Window m starts at ``m * stride``; its known tokens are fed in one prefill, then every target is
    predicted, coded (or decoded and fed back) in turn. ``values`` marks the tokens that are coded.
    """
    context = int(model.config.n_positions)
    plan = WindowPlan(sequences.shape[1], context, stride)
    steps = stepper.KVStepper(model, sequences.shape[0], settings.value_count, device)
    for m in range(plan.count):
        a = plan.start(m)
        low, high = plan.new_targets(m)
        steps.reset()
        logits = steps.feed(sequences[:, a : a + low + 1])
        for i in range(low, high):
            if i > low:
                logits = steps.feed(sequences[:, a + i : a + i + 1])
            position = a + 1 + i
            rows = np.flatnonzero(values[:, position])
            if rows.size:
                coder.step(position, rows, logits[rows])
        coder.end_window()


# -- group jobs (run in this process, in threads or in worker processes) ----------------------------


@dataclass
class _GroupJob:
    model_dir: str
    device: str
    stride: int
    bit_depth: int
    channels: int
    first_frame: int
    lengths: list[int]
    samples: list[np.ndarray] | None = None  # encoding
    payloads: list[bytes] | None = None  # decoding


@dataclass
class _GroupResult:
    payloads: list[bytes] = field(default_factory=list)
    info_bits: list[float] = field(default_factory=list)
    ideal_bits: list[float] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)


def _group_arrays(job: _GroupJob, settings: TokenizerSettings) -> tuple[np.ndarray, np.ndarray]:
    longest = max(job.lengths)
    width = frame_layout(longest, job.channels, job.bit_depth, settings)[0].shape[0]
    sequences = np.full((len(job.lengths), width), settings.pad, dtype=np.int64)
    values = np.zeros(sequences.shape, dtype=bool)
    for row, length in enumerate(job.lengths):
        if job.samples is not None:
            seq = ClipTokens.from_samples(job.samples[row], job.bit_depth, settings).sequence().astype(np.int64)
            mask = is_value(seq, settings)
        else:
            seq, mask = frame_layout(length, job.channels, job.bit_depth, settings)
        sequences[row, : seq.shape[0]] = seq
        values[row, : seq.shape[0]] = mask
    return sequences, values


def _run_job(job: _GroupJob) -> _GroupResult:
    loaded = get_model(job.model_dir, job.device)
    settings = loaded.settings
    sequences, values = _group_arrays(job, settings)
    result = _GroupResult()
    if job.samples is not None:
        encoder = _Encoder(sequences)
        run_group(loaded.model, settings, job.stride, sequences, values, encoder, job.device)
        result.payloads = [c.finish() for c in encoder.coders]
        result.info_bits = encoder.info_bits.tolist()
        result.ideal_bits = encoder.ideal_bits.tolist()
    else:
        assert job.payloads is not None
        decoder = _Decoder(sequences, job.payloads, job.first_frame)
        run_group(loaded.model, settings, job.stride, sequences, values, decoder, job.device)
        for row, length in enumerate(job.lengths):
            width = frame_layout(length, job.channels, job.bit_depth, settings)[0].shape[0]
            try:
                samples = tokens_to_samples(sequences[row, :width], job.channels, job.bit_depth, settings)
            except TokenizeError as err:
                raise CodecError(f"frame {job.first_frame + row}: decoded tokens are invalid ({err})") from err
            result.samples.append(samples)
    return result


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_jobs(jobs: list[_GroupJob], threads: int, workers: int = 1, parallel: str = "process") -> list[_GroupResult]:
    """Every group job, ``workers`` at a time (in processes or threads), each with ``threads`` torch threads."""
    if parallel not in PARALLEL:
        raise CodecError(f"parallel must be one of {PARALLEL}, not {parallel!r}")
    workers = max(1, min(workers, len(jobs)))
    if workers == 1 or parallel == "thread":
        with torch_threads(threads):
            if workers == 1:
                return [_run_job(job) for job in jobs]
            with ThreadPoolExecutor(workers) as pool:
                return list(pool.map(_run_job, jobs))
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
        return list(pool.map(_run_job, jobs))


# -- whole files ---------------------------------------------------------------------------------


@dataclass
class Encoded:
    """An encoded file and what it cost."""

    container: container.Container
    data: bytes
    info_bits: float  # sum of -log2 of the coded symbols' table probabilities
    ideal_bits: float  # sum of -log2 p under the float probabilities, the same frames and windows
    seconds: float

    @property
    def payload_bits(self) -> int:
        """Frames' payloads and their lengths: what a decoder needs besides the model."""
        return 8 * (self.container.payload_bytes + 4 * len(self.container.frames))

    @property
    def container_bits(self) -> int:
        return 8 * len(self.data) - self.payload_bits


def _environment(device: str) -> dict[str, Any]:
    import torch

    from trilobyte.core.environment import cpu_name, package_version

    return {
        "torch": torch.__version__,
        "transformers": package_version("transformers"),
        "constriction": package_version("constriction"),
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": device,
    }


def _probe(loaded: LoadedModel, batch: int, threads: int) -> str:
    with torch_threads(threads):
        return stepper.probe_fingerprint(loaded.model, batch, loaded.settings.value_count, loaded.device)


def _jobs(
    loaded: LoadedModel,
    bounds: list[tuple[int, int]],
    group_frames: int,
    stride: int,
    bit_depth: int,
    channels: int,
    make: Callable[[int, int], dict[str, Any]],
) -> list[_GroupJob]:
    jobs = []
    for first in range(0, len(bounds), group_frames):
        chosen = range(first, min(len(bounds), first + group_frames))
        jobs.append(
            _GroupJob(
                str(loaded.directory),
                loaded.device,
                stride,
                bit_depth,
                channels,
                first,
                [bounds[i][1] - bounds[i][0] for i in chosen],
                **make(first, chosen.stop),
            )
        )
    return jobs


def encode(
    samples: np.ndarray,
    sample_rate: int,
    bit_depth: int,
    loaded: LoadedModel,
    settings: CodecSettings | None = None,
    workers: int = 1,
    parallel: str = "process",
) -> Encoded:
    """Encode integer PCM ``(num_samples, channels)`` into a ``.trb`` file's bytes."""
    start = time.perf_counter()
    settings = settings or CodecSettings(device=loaded.device)
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[0] < 1 or not 1 <= samples.shape[1] <= MAX_CHANNELS:
        raise CodecError(f"samples must have shape (num_samples >= 1, 1..{MAX_CHANNELS} channels), got {samples.shape}")
    tok = loaded.settings
    try:
        tok.check_depth(bit_depth)
    except TokenizeError as err:
        raise CodecError(str(err)) from err
    context = loaded.info.context
    stride = settings.stride or default_stride(context, tok)
    try:
        check_stride(stride, context, tok)
    except ValueError as err:
        raise CodecError(str(err)) from err
    bounds = frame_bounds(samples.shape[0], settings.frame_samples)
    frames = [np.ascontiguousarray(samples[a:b], dtype=np.int32) for a, b in bounds]
    jobs = _jobs(
        loaded,
        bounds,
        settings.group_frames,
        stride,
        bit_depth,
        samples.shape[1],
        lambda a, b: {"samples": frames[a:b]},
    )
    results = run_jobs(jobs, settings.threads, workers, parallel)
    payloads = [p for r in results for p in r.payloads]
    out = container.Container(
        {
            "format": container.FORMAT,
            "model": loaded.identity,
            "tokenizer": tok.to_dict(),
            "audio": container.audio_header(samples, sample_rate, bit_depth),
            "frames": {"samples": settings.frame_samples, "per_group": settings.group_frames, "count": len(bounds)},
            "compute": {
                "engine": stepper.ENGINE,
                "dtype": "float32",
                "threads": settings.threads,
                "device": _device_kind(loaded.device),
                "context": context,
                "stride": stride,
                "probe": _probe(loaded, min(settings.group_frames, len(bounds)), settings.threads),
            },
            "coding": {"table": entropy.TABLE_FUNCTION, "coder": entropy.CODER, "precision": entropy.PRECISION},
            "encoder": _environment(loaded.device),
        },
        container.coded_frames(payloads, frames, bit_depth),
    )
    return Encoded(
        out,
        out.to_bytes(),
        sum(b for r in results for b in r.info_bits),
        sum(b for r in results for b in r.ideal_bits),
        time.perf_counter() - start,
    )


def _device_kind(device: str) -> str:
    return device.split(":")[0]


@dataclass(frozen=True)
class StreamInfo:
    """The checked settings a header holds."""

    sample_rate: int
    bit_depth: int
    channels: int
    num_samples: int
    pcm_md5: str
    frame_samples: int
    group_frames: int
    frame_count: int
    threads: int
    stride: int
    context: int
    device: str
    probe: str
    model_id: str


def stream_info(header: dict[str, Any]) -> StreamInfo:
    """Read and check a header's settings (a damaged or foreign header raises ContainerError)."""
    try:
        audio, frames, compute, coder = header["audio"], header["frames"], header["compute"], header["coding"]
        info = StreamInfo(
            int(audio["sample_rate"]),
            int(audio["bit_depth"]),
            int(audio["channels"]),
            int(audio["num_samples"]),
            str(audio["pcm_md5"]),
            int(frames["samples"]),
            int(frames["per_group"]),
            int(frames["count"]),
            int(compute["threads"]),
            int(compute["stride"]),
            int(compute["context"]),
            str(compute["device"]),
            str(compute["probe"]),
            str(header["model"]["id"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise container.ContainerError(f"header lacks a valid field ({err!r})") from err
    known = {"engine": stepper.ENGINE, "dtype": "float32"}
    for key, value in known.items():
        if compute.get(key) != value:
            raise container.ContainerError(f"file needs compute {key} {compute.get(key)!r}; this decoder has {value!r}")
    if (coder.get("table"), coder.get("coder"), coder.get("precision")) != (
        entropy.TABLE_FUNCTION,
        entropy.CODER,
        entropy.PRECISION,
    ):
        raise container.ContainerError(f"file uses coding {coder}; this decoder has {entropy.TABLE_FUNCTION}")
    container.check_stream(info, MAX_CHANNELS, info.group_frames > 0 and 0 < info.threads <= 256)
    return info


def check_model(header: dict[str, Any], loaded: LoadedModel) -> None:
    """Refuse, before any decoding, a file made with another model."""
    info = stream_info(header)
    mine = loaded.identity
    if info.model_id != mine["id"]:
        theirs = header.get("model", {})
        raise CodecError(
            f"the file was encoded with another model (id {info.model_id}, preset {theirs.get('preset')},"
            f" weights sha256 {str(theirs.get('weights_sha256'))[:16]}...); {loaded.directory} is model"
            f" {mine['id']} (weights sha256 {mine['weights_sha256'][:16]}...)"
        )
    if info.context != loaded.info.context:
        raise CodecError(f"the file was coded with context {info.context}, the model has {loaded.info.context}")


def check_computation(header: dict[str, Any], loaded: LoadedModel) -> None:
    """Refuse to decode where this machine computes the model differently from the encoder's."""
    info = stream_info(header)
    if info.device != _device_kind(loaded.device):
        raise CodecError(
            f"the file was encoded on {info.device!r} and exact decoding needs the same kind of device"
            f" (decoding on {loaded.device!r}); pass --device {info.device}"
        )
    probe = _probe(loaded, min(info.group_frames, info.frame_count), info.threads)
    if probe != info.probe:
        enc = header.get("encoder", {})
        mine = _environment(loaded.device)
        raise CodecError(
            "this machine computes the model's probabilities differently from the encoder's (probe"
            f" {probe} != {info.probe}), so decoding would not be exact. Encoder: torch {enc.get('torch')},"
            f" {enc.get('cpu')} ({enc.get('cpu_capability')}); here: torch {mine['torch']}, {mine['cpu']}"
            f" ({mine['cpu_capability']})"
        )


def decode(
    data: bytes, loaded: LoadedModel, workers: int = 1, parallel: str = "process"
) -> tuple[np.ndarray, StreamInfo]:
    """Decode a ``.trb`` file's bytes into integer PCM ``(num_samples, channels)``, checked bit for bit."""
    parsed = container.parse(data)
    info = stream_info(parsed.header)
    check_model(parsed.header, loaded)
    check_computation(parsed.header, loaded)
    bounds = frame_bounds(info.num_samples, info.frame_samples)
    payloads = [f.payload for f in parsed.frames]
    jobs = _jobs(
        loaded,
        bounds,
        info.group_frames,
        info.stride,
        info.bit_depth,
        info.channels,
        lambda a, b: {"payloads": payloads[a:b]},
    )
    results = run_jobs(jobs, info.threads, workers, parallel)
    frames = [s for r in results for s in r.samples]
    damaged = "the file is damaged, or this machine's computation differs from the encoder's"
    return container.check_decoded(frames, parsed, info.bit_depth, info.pcm_md5, CodecError, damaged), info
