"""One frame through the kernel: encode to range-coded words, decode back, or extract training features."""

from __future__ import annotations

import numpy as np

from trilobyte.core.flacblocks import DEFAULT_BLOCK
from trilobyte.hybrid import kernel
from trilobyte.hybrid.model import HybridModel
from trilobyte.hybrid.settings import HybridSettings
from trilobyte.hybrid.tables import exp2_table, sigmoid_table
from trilobyte.hybrid.valueset import cell_edges

BLOCK = DEFAULT_BLOCK  # the kernel's block: flac -8's, so that a block may be coded by FLAC instead
STATUS = {
    kernel.BAD_DATA: "the range-coded data is invalid",
    kernel.BAD_VALUE: "a decoded sample is outside the bit depth's range",
}


class FrameError(ValueError):
    """A frame that does not decode (damaged data, or another model's)."""


def _empty(settings: HybridSettings) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, settings.features), dtype=np.int64), np.zeros((0, 3), dtype=np.int64)


def _samples(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] not in (1, 2):
        raise ValueError(f"samples must have shape (n, 1 or 2), got {samples.shape}")
    return np.ascontiguousarray(samples, dtype=np.int64)


def stereo_mode(x: np.ndarray) -> int:
    """0 (left, right), 1 (left, side) or 2 (mid, side): the pair with the smallest sum of absolute
    second-order differences, as FLAC chooses its channel assignment; 0 for mono."""
    if x.shape[1] != 2 or x.shape[0] < 3:
        return 0
    left, right = x[:, 0], x[:, 1]
    cost = [float(np.abs(np.diff(c, 2)).sum()) for c in (left, right, (left + right) >> 1, left - right)]
    pairs = (cost[0] + cost[1], cost[0] + cost[3], cost[2] + cost[3])
    return int(np.argmin(pairs))  # the first of equal costs


def joint_mode(model: HybridModel, x: np.ndarray, stereo: int | None = None) -> int:
    """The stereo mode the kernel codes ``x`` in: ``stereo`` (else :func:`stereo_mode`'s) where the model
    has stereo modes and ``x`` two channels, else 0."""
    if x.shape[1] != 2 or not model.settings.stereo_modes:
        return 0
    return stereo_mode(x) if stereo is None else stereo


def coded_channels(x: np.ndarray, joint: int) -> np.ndarray:
    """The channels the kernel codes for ``x`` ``(n, channels)`` in stereo mode ``joint`` (its ``split``)."""
    if joint == 1:
        return np.stack([x[:, 0], x[:, 1] - x[:, 0]], axis=1)
    if joint == 2:
        return np.stack([(x[:, 0] + x[:, 1]) >> 1, x[:, 0] - x[:, 1]], axis=1)
    return x


def table_arrays(tables: list[np.ndarray | None] | None, channels: int,
                 cells: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernel's ``values`` and ``edges`` ``(channels, K)`` and ``counts`` for per-channel value tables
    (``None``: coded without one), their cells placed by :func:`~trilobyte.hybrid.valueset.cell_edges` with
    ``cells`` values each side."""
    tables = [None] * channels if tables is None else tables
    if len(tables) != channels:
        raise ValueError(f"{len(tables)} value tables for {channels} channels")
    width = max([len(t) for t in tables if t is not None], default=0)
    values = np.zeros((channels, max(width, 1)), dtype=np.int64)
    edges = np.zeros_like(values)
    counts = np.zeros(channels, dtype=np.int64)
    for c, table in enumerate(tables):
        if table is not None:
            values[c, : len(table)] = table
            edges[c, : len(table)] = cell_edges(table, cells)
            counts[c] = len(table)
    return values, edges, counts


def blocks(num_samples: int, block: int = BLOCK) -> int:
    """How many blocks of ``block`` samples (the last one shorter) a frame of ``num_samples`` holds."""
    return -(-num_samples // block)


def kernel_words(model: HybridModel, samples: np.ndarray, bit_depth: int, sample_rate: int, stereo: int | None = None,
                 skip: np.ndarray | None = None, tables: list[np.ndarray | None] | None = None,
                 variant: int = 0, calibrate: bool = False, cells: int = 1,
                 recent: bool = False, lead: np.ndarray | None = None) -> tuple[bytes, np.ndarray]:
    """The frame's words (little-endian uint32) under ``model`` (the sample rate picks the stages; the
    stereo mode is :func:`stereo_mode`'s unless given), the blocks of :data:`BLOCK` samples where
    ``skip`` is nonzero only observed, each coded channel among its value table where ``tables`` gives
    one (every value it takes, sorted; ``cells``: :func:`table_arrays`'), the cascade in ``variant``
    (:data:`~trilobyte.hybrid.settings.VARIANTS`), the mixture calibrated where ``calibrate``
    (:mod:`trilobyte.hybrid.calibration`) and mixed with recent values where ``recent``
    (:mod:`trilobyte.hybrid.recent`); and per block the words written by its end. ``lead``: samples before
    the frame (whole blocks, in its coded form) that the kernel only observes first (:func:`primed`)."""
    x = _samples(samples)
    if stereo is None:
        stereo = stereo_mode(x)
    elif stereo not in (0, 1, 2):
        raise ValueError(f"stereo mode must be 0, 1 or 2, not {stereo}")
    cfg = model.settings.kernel_config(bit_depth, x.shape[1], sample_rate, stereo, variant, calibrate, recent)
    skip = np.zeros(blocks(len(x)), dtype=np.uint8) if skip is None else skip
    x, skip, led = primed(x, skip, lead)
    marks = np.zeros(len(skip), dtype=np.int64)
    size = x.size * 2 + 64
    while True:
        words = np.zeros(size, dtype=np.uint32)
        status, used = kernel.run_frame(kernel.ENCODE, x, cfg, model.kernel_weights(), sigmoid_table(),
                                        exp2_table(), words, *_empty(model.settings), BLOCK, skip, marks,
                                        *table_arrays(tables, x.shape[1], cells))
        if status == kernel.OK:
            return words[:used].astype("<u4").tobytes(), marks[led:]
        size = used + 64  # the first guess was too small: the count is exact now


def kernel_decode(model: HybridModel, payload: bytes, x: np.ndarray, bit_depth: int, sample_rate: int,
                  skip: np.ndarray | None = None, tables: list[np.ndarray | None] | None = None,
                  variant: int = 0, calibrate: bool = False, cells: int = 1, recent: bool = False,
                  lead: np.ndarray | None = None) -> None:
    """Decode :func:`kernel_words`' words into ``x`` ``(num_samples, channels)`` int64, whose blocks where
    ``skip`` is nonzero already hold their samples (``tables``, ``variant``, ``calibrate``, ``cells``,
    ``recent``, ``lead``: as the encoder's)."""
    if len(payload) % 4:
        raise FrameError(f"a frame's payload is whole 32-bit words, not {len(payload)} bytes")
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    cfg = model.settings.kernel_config(bit_depth, x.shape[1], sample_rate, variant=variant, calibrate=calibrate,
                                       recent=recent)
    skip = np.zeros(blocks(len(x)), dtype=np.uint8) if skip is None else skip
    whole, skip, led = primed(x, skip, lead)
    marks = np.zeros(len(skip), dtype=np.int64)
    status, _ = kernel.run_frame(kernel.DECODE, whole, cfg, model.kernel_weights(), sigmoid_table(), exp2_table(),
                                 words, *_empty(model.settings), BLOCK, skip, marks,
                                 *table_arrays(tables, x.shape[1], cells))
    if status != kernel.OK:
        raise FrameError(STATUS.get(status, f"kernel status {status}"))
    if led:
        x[:] = whole[led * BLOCK:]


def primed(x: np.ndarray, skip: np.ndarray, lead: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    """The frame ``x`` after its ``lead`` (whole blocks, observed only: the cascade and the coder's scales
    start from the signal before the frame instead of from silence), its ``skip`` flags after the lead's,
    and how many blocks the lead holds."""
    if lead is None or len(lead) == 0:
        return x, skip, 0
    if len(lead) % BLOCK or lead.shape[1:] != x.shape[1:]:
        raise ValueError(f"a frame's lead is whole blocks of {BLOCK} samples of its channels, not {lead.shape}")
    led = len(lead) // BLOCK
    whole = np.ascontiguousarray(np.concatenate([np.asarray(lead, dtype=np.int64), x]))
    return whole, np.concatenate([np.ones(led, dtype=np.uint8), skip]), led


def encode_frame(model: HybridModel, samples: np.ndarray, bit_depth: int, sample_rate: int,
                 stereo: int | None = None) -> bytes:
    """The frame's words, every block coded by the kernel (a layout-1 payload)."""
    return kernel_words(model, samples, bit_depth, sample_rate, stereo)[0]


def decode_frame(model: HybridModel, payload: bytes, num_samples: int, channels: int, bit_depth: int,
                 sample_rate: int) -> np.ndarray:
    """Exact inverse of :func:`encode_frame`: ``(num_samples, channels)`` int64."""
    x = np.zeros((num_samples, channels), dtype=np.int64)
    kernel_decode(model, payload, x, bit_depth, sample_rate)
    return x


def frame_features(settings: HybridSettings, samples: np.ndarray, bit_depth: int,
                   sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The network's integer inputs ``(n * channels, features)`` and ``(residual, scale, bin shift)`` rows."""
    x = _samples(samples)
    rows = x.size
    feats = np.zeros((rows, settings.features), dtype=np.int64)
    aux = np.zeros((rows, 3), dtype=np.int64)
    cfg = settings.kernel_config(bit_depth, x.shape[1], sample_rate, stereo_mode(x))
    dummy = (np.zeros((1, 1), dtype=np.int64), np.zeros(1, dtype=np.int64)) * 2 + (
        np.zeros((1, settings.outputs), dtype=np.int64), np.zeros(settings.outputs, dtype=np.int64))
    skip = np.zeros(blocks(len(x)), dtype=np.uint8)
    kernel.run_frame(kernel.FEATURES, x, cfg, dummy, sigmoid_table(), exp2_table(),
                     np.zeros(1, dtype=np.uint32), feats, aux, BLOCK, skip, np.zeros(len(skip), dtype=np.int64),
                     *table_arrays(None, x.shape[1]))
    return feats, aux


def frames(num_samples: int, frame_samples: int) -> list[tuple[int, int]]:
    """Each frame's (first, end) sample."""
    return [(a, min(num_samples, a + frame_samples)) for a in range(0, num_samples, frame_samples)]
