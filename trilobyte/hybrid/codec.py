"""The hybrid codec: integer PCM <-> a ``.trh`` file, in the Trilobyte container (:mod:`trilobyte.core.container`).

The file is the ``.trb`` layout (magic, version, JSON header, header CRC, seek table with per-frame
payload and PCM CRC32s, payloads) with header format ``trilobyte-hybrid``: the model's id, the kernel's
table digest, the audio format, the frame layout and the PCM's MD5. Frames of ``frame_samples`` samples
are written in layout 6 (:mod:`trilobyte.hybrid.payload`: wasted low bits, channels coded among the
values they use, held samples coded once, recent values mixed into the coder, blocks that FLAC codes in
fewer bits left to FLAC, and frames primed by the :data:`LEAD` samples before them). Frames come in
chains of :data:`CHAIN`: a chain's first frame starts from silence, each later one from the end of the
frame before it, so frames are encoded in parallel processes (the encoder has every sample) and chains
decoded in parallel. Layout-5 files (no frame primed), layout-4 files (no recent values), layout-3 files
(value cells cut at the midpoints, no holds), layout-2 files (no value tables) and files whose header names no
layout (layout 1: a frame is the kernel's words alone) decode as they always did.

Unlike the GPT-2 codec, nothing here depends on the machine: the kernel is integer arithmetic only,
so a file decodes bit for bit on any CPU, OS, thread count or library version.
"""

from __future__ import annotations

import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trilobyte.core import container
from trilobyte.hybrid import engine, payload
from trilobyte.hybrid.model import HybridModel, get_model
from trilobyte.hybrid.settings import VARIANTS
from trilobyte.hybrid.tables import tables_digest

FORMAT = "trilobyte-hybrid"
SUFFIX = ".trh"
KERNEL = "hybrid-int-v1"
MAX_CHANNELS = 2
LEAD = 1 << 14  # samples before a frame that prime it (layout 6)
CHAIN = 8  # frames per chain: a chain's first frame is not primed, so chains decode in parallel
# The encoder's choices (every preset writes the same format, which the decoder follows as written).
PRESETS = {
    "default": "each stereo frame's channel pairing chosen by FLAC's rule, each frame coded with the model's"
               " cascade and with variant 4 (a faster first stage, a longer second) and the smaller kept",
    "search": "each frame coded with every cascade variant (stereo: first with all three channel pairings,"
              " left/right, left/side and mid/side) and the smallest kept: about 2.5x the default's encode"
              " time (3.5x on stereo), the same decode time",
}
DEFAULT_PRESET = "default"
DEFAULT_VARIANTS = (0, 4)  # the cascade variants the default preset tries, in order (the first of equal sizes kept)


class CodecError(ValueError):
    """Audio or a file that cannot be coded, or a decode that would not be exact; says why."""


@dataclass
class Encoded:
    """An encoded file and what it cost."""

    container: container.Container
    data: bytes
    seconds: float

    @property
    def payload_bits(self) -> int:
        return 8 * self.container.payload_bytes

    @property
    def container_bits(self) -> int:
        return 8 * len(self.data) - self.payload_bits


def _check_audio(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 2 or not 1 <= samples.shape[1] <= MAX_CHANNELS:
        raise CodecError(f"audio must have shape (samples, 1 or 2 channels), got {samples.shape}")
    if samples.shape[0] < 1:
        raise CodecError("no samples to code")
    if bit_depth not in (8, 16, 24):
        raise CodecError(f"bit depth must be 8, 16 or 24, not {bit_depth}")
    if not np.issubdtype(samples.dtype, np.integer):
        raise CodecError(f"samples must be integers, not {samples.dtype}")
    low, high = -(1 << (bit_depth - 1)), (1 << (bit_depth - 1)) - 1
    if samples.min() < low or samples.max() > high:
        raise CodecError(f"samples exceed the {bit_depth}-bit range")
    return samples.astype(np.int64)


def _encode_job(job: tuple[str, np.ndarray, np.ndarray | None, int, int, bool]) -> bytes:
    """The smallest of the frame's tries: :data:`DEFAULT_VARIANTS` in FLAC's channel pairing; with the search
    preset also every pairing, then every variant in the best pairing."""
    directory, frame, lead, bit_depth, sample_rate, search = job
    model = get_model(directory)
    prepared = payload.prepare(frame, bit_depth, sample_rate)  # shared by every try, as are FLAC's blocks
    flac = payload.blocks_of(prepared, bit_depth)
    tries: dict[tuple[int, int], bytes] = {}

    def coded(mode: int, variant: int) -> bytes:
        if (mode, variant) not in tries:
            tries[mode, variant] = payload.encode_payload(model, frame, bit_depth, sample_rate, mode, flac, variant,
                                                          lead, prepared)
        return tries[mode, variant]

    first = payload.pairing(model, prepared)
    for variant in DEFAULT_VARIANTS:
        coded(first, variant)
    if search:
        modes = (0, 1, 2) if frame.shape[1] == 2 and model.settings.stereo_modes else (first,)
        best = min(modes, key=lambda mode: len(coded(mode, 0)))  # the first of equal lengths
        for variant in range(1, len(VARIANTS)):
            coded(best, variant)
    return min(tries.values(), key=len)


def _decode_job(job: tuple[str, list[tuple[bytes, int, int]], int, int, int, int, int]) -> list[np.ndarray]:
    """A chain's frames in turn, each primed by the last ``lead`` samples decoded before it."""
    directory, chain, channels, bit_depth, sample_rate, layout, lead = job
    model = get_model(directory)
    decoded: list[np.ndarray] = []
    for data, length, index in chain:
        try:
            if layout == 1:
                decoded.append(engine.decode_frame(model, data, length, channels, bit_depth, sample_rate))
                continue
            before = decoded[-1][len(decoded[-1]) - lead:] if decoded and lead else None
            decoded.append(payload.decode_payload(model, data, length, channels, bit_depth, sample_rate, layout,
                                                  before))
        except engine.FrameError as err:
            raise CodecError(f"frame {index}: {err}") from err
    return decoded


def lead_and_chain(frame_samples: int) -> tuple[int, int]:
    """The lead that primes a frame (at most :data:`LEAD`, whole blocks within one frame) and the chain."""
    lead = min(LEAD, frame_samples) // engine.BLOCK * engine.BLOCK
    return lead, CHAIN if lead else 1


def _run(function: Any, jobs: list[Any], workers: int) -> list[Any]:
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        return [function(job) for job in jobs]
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(function, jobs))


def model_header(model: HybridModel) -> dict[str, Any]:
    return {"id": model.model_id, "parameters": model.parameters, "settings": model.settings.to_dict()}


def encode(samples: np.ndarray, sample_rate: int, bit_depth: int, model_dir: Path | str, workers: int = 1,
           preset: str = DEFAULT_PRESET) -> Encoded:
    """Encode integer PCM ``(num_samples, channels)`` into a ``.trh`` file's bytes (``preset``: one of
    :data:`PRESETS`)."""
    start = time.perf_counter()
    samples = _check_audio(samples, bit_depth)
    if sample_rate < 1:
        raise CodecError(f"sample rate must be positive, not {sample_rate}")
    if preset not in PRESETS:
        raise CodecError(f"unknown preset {preset!r} (one of {', '.join(PRESETS)})")
    model = get_model(model_dir)
    bounds = engine.frames(samples.shape[0], model.settings.frame_samples)
    frames = [samples[a:b] for a, b in bounds]
    directory = str(Path(model_dir).resolve())
    search = preset == "search"
    lead, chain = lead_and_chain(model.settings.frame_samples)
    jobs = [(directory, f, payload.lead_of(samples, a, lead if i % chain else 0), bit_depth, sample_rate, search)
            for i, (f, (a, _)) in enumerate(zip(frames, bounds, strict=True))]
    payloads = _run(_encode_job, jobs, workers)
    header = {
        "format": FORMAT,
        "model": model_header(model),
        "audio": container.audio_header(samples, sample_rate, bit_depth),
        "frames": {"samples": model.settings.frame_samples, "count": len(bounds), "lead": lead, "chain": chain},
        "coding": {"kernel": KERNEL, "tables": tables_digest(), "coder": "constriction-range-u32-p24",
                   "layout": payload.LAYOUT, "block": engine.BLOCK},
        "encoder": {"python": platform.python_version(), "machine": platform.machine(), "preset": preset},
    }
    out = container.Container(header, container.coded_frames(payloads, frames, bit_depth))
    return Encoded(out, out.to_bytes(), time.perf_counter() - start)


@dataclass(frozen=True)
class StreamInfo:
    """The checked settings a header holds."""

    sample_rate: int
    bit_depth: int
    channels: int
    num_samples: int
    pcm_md5: str
    frame_samples: int
    frame_count: int
    model_id: str
    layout: int  # 1: a frame is the kernel's words; 2 to 6: trilobyte.hybrid.payload's layouts
    lead: int = 0  # samples before a frame that prime it (layout 6), except a chain's first frame
    chain: int = 1  # frames per chain


def stream_info(header: dict[str, Any]) -> StreamInfo:
    """Read and check a header's settings (a damaged or foreign header raises ContainerError)."""
    try:
        audio, frames, coding = header["audio"], header["frames"], header["coding"]
        info = StreamInfo(int(audio["sample_rate"]), int(audio["bit_depth"]), int(audio["channels"]),
                          int(audio["num_samples"]), str(audio["pcm_md5"]), int(frames["samples"]),
                          int(frames["count"]), str(header["model"]["id"]), int(coding.get("layout", 1)),
                          int(frames.get("lead", 0)), int(frames.get("chain", 1)))
        block = int(coding.get("block", engine.BLOCK))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise container.ContainerError(f"header lacks a valid field ({err!r})") from err
    if info.layout not in (1, *payload.LAYOUTS) or block != engine.BLOCK:
        raise container.ContainerError(f"file needs frame layout {info.layout} with blocks of {block} samples;"
                                       f" this decoder reads layouts 1, {', '.join(map(str, payload.LAYOUTS))}"
                                       f" with {engine.BLOCK}")
    if coding.get("kernel") != KERNEL or coding.get("tables") != tables_digest():
        raise container.ContainerError(
            f"file needs kernel {coding.get('kernel')!r} with tables {coding.get('tables')!r}; this decoder has"
            f" {KERNEL!r} with {tables_digest()!r}"
        )
    if info.lead and (info.layout < payload.LEAD_FROM or info.lead % engine.BLOCK or info.lead > info.frame_samples
                      or info.chain < 2):
        raise container.ContainerError(f"frames primed by {info.lead} samples in chains of {info.chain} (layout"
                                       f" {info.layout}, frames of {info.frame_samples}): not a stream this"
                                       f" decoder reads")
    if info.chain < 1:
        raise container.ContainerError(f"chains of {info.chain} frames")
    container.check_stream(info, MAX_CHANNELS)
    return info


def check_model(header: dict[str, Any], model: HybridModel, directory: Path | str) -> None:
    """Refuse, before any decoding, a file made with another model."""
    info = stream_info(header)
    if info.model_id != model.model_id:
        raise CodecError(
            f"the file was encoded with another hybrid model (id {info.model_id});"
            f" {directory} is model {model.model_id}"
        )
    if info.frame_samples != model.settings.frame_samples:
        raise CodecError(
            f"the file's frames hold {info.frame_samples} samples, the model's {model.settings.frame_samples}"
        )


def read_header(data: bytes) -> dict[str, Any]:
    """The checked header of a ``.trh`` file."""
    header, _ = container.read_header(data, FORMAT)
    stream_info(header)
    return header


def parse(data: bytes) -> container.Container:
    """A ``.trh`` file's checked container (a layout-2 payload is bytes, layout 1's frames check their words)."""
    return container.parse(data, FORMAT, whole_words=False)


def decode(data: bytes, model_dir: Path | str, workers: int = 1) -> tuple[np.ndarray, StreamInfo]:
    """Decode a ``.trh`` file's bytes into integer PCM ``(num_samples, channels)``, checked bit for bit."""
    parsed = parse(data)
    info = stream_info(parsed.header)
    model = get_model(model_dir)
    check_model(parsed.header, model, model_dir)
    bounds = engine.frames(info.num_samples, info.frame_samples)
    directory = str(Path(model_dir).resolve())
    coded = [(f.payload, b - a, i) for i, ((a, b), f) in enumerate(zip(bounds, parsed.frames, strict=True))]
    jobs = [(directory, coded[i: i + info.chain], info.channels, info.bit_depth, info.sample_rate, info.layout,
             info.lead) for i in range(0, len(coded), info.chain)]
    frames = [frame for chain in _run(_decode_job, jobs, workers) for frame in chain]
    return container.check_decoded(frames, parsed, info.bit_depth, info.pcm_md5, CodecError), info
