"""A neural audio codec in place of FLAC's linear predictor: codes + Rice-coded integer residual, lossless.

Per channel group (each channel alone for a mono model; pairs for a stereo one, an odd last channel
repeated) and per block of ``block_seconds`` of the file:

1. the block's exact integers, scaled to [-1, 1) (x / 2**(depth-1), exact in float32 up to 24 bits),
   resampled to the model's rate when ``resample`` is on and the rates differ (:mod:`baselines.nac.resample`),
   zero-padded to a whole number of the model's hops;
2. with gain normalization (EnCodec's own when its config has it; for DAC models on by default, see
   :attr:`baselines.nac.models.NacModel.target_rms`), the block's float16 gain, and the block divided
   by it; the model's codes for that (first ``codebooks`` codebooks);
3. the reconstruction decoded from those codes alone, times the gain, resampled back, cut to the block, then
   rounded and clipped to the file's integers: ``clip(rint(y * 2**(depth-1)))``;
4. the residual = input - that rounded reconstruction, every channel, coded by :mod:`baselines.rice`.

The decoder rebuilds step 3 from the stored codes and adds the residual. Both sides run the same
calls on tensors of the same shapes with one torch thread and deterministic kernels
(:func:`baselines.nac.models.deterministic_torch`), so the floats, and so the rounded integers, agree
bit for bit between the encoding process and a fresh decoding one on the same machine and software.
The block layout is a function of the header alone: full blocks, then a shorter last block padded only
to the hop. Nothing is resampled in the audio being scored: residuals are against the file's samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baselines import rice
from baselines.nac.configs import NacError
from baselines.nac.models import NacModel
from baselines.nac.resample import resample, resampled_length
from baselines.nac.stream import (
    HEADER,
    MAX_DEPTH,
    MAX_PARTITION_ORDER,
    MIN_DEPTH,
    RICE_BLOCK,
    Header,
    NacStreamError,
    code_width,
    pack_codes,
    pack_scales,
    unpack_codes,
    unpack_scales,
)

DEFAULT_BLOCK_SECONDS = 1.0
DEFAULT_CODEBOOKS = {"dac": 3, "encodec": 4}  # the paper's Appendix B settings; custom-dac: all of its own


@dataclass(frozen=True)
class Block:
    """One block: ``length`` file samples from ``start``; the model sees ``model_length`` samples."""

    start: int
    length: int
    model_length: int
    frames: int


@dataclass
class Encoded:
    """A coded file and where its bits went (all counted in ``len(data)``)."""

    data: bytes
    bits: dict[str, int]
    code_bits_exact: float
    residual: np.ndarray = field(repr=False)
    seconds: dict[str, float] = field(default_factory=dict)


class NacCodec:
    """Lossless coding through one neural codec: see the module notes."""

    def __init__(self, model: NacModel, codebooks: int | None = None, block_seconds: float = DEFAULT_BLOCK_SECONDS,
                 resample_to_model: bool = True, normalize: bool = True) -> None:
        if codebooks is None:
            codebooks = min(DEFAULT_CODEBOOKS.get(model.codec, model.max_codebooks), model.max_codebooks)
        if not 1 <= codebooks <= min(model.max_codebooks, 255):
            raise NacError(f"{model.codec}: --codebooks must be 1..{model.max_codebooks}, not {codebooks}")
        if not block_seconds > 0:
            raise NacError(f"block length must be positive, not {block_seconds} s")
        self.model = model
        self.codebooks = codebooks
        self.block_seconds = block_seconds
        self.resample_to_model = resample_to_model
        # EnCodec's normalization belongs to the model; for DAC models it is the pipeline's choice
        self.target_rms = model.target_rms if normalize or model.kind == "encodec" else None
        self.width = code_width(model.codebook_size)
        self._fingerprint = model.fingerprint()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    # -------------------------------------------------------------------------------- layout

    def groups(self, channels: int) -> list[tuple[int, ...]]:
        m = self.model.channels
        return [tuple(range(i, min(i + m, channels))) for i in range(0, channels, m)]

    def model_rate(self, header: Header) -> int:
        return self.model.sample_rate if header.resampled else header.sample_rate

    def blocks(self, header: Header) -> list[Block]:
        hop = self.model.hop_length
        rate = self.model_rate(header)
        out = []
        for start in range(0, header.num_samples, header.block_size):
            length = min(header.block_size, header.num_samples - start)
            m = resampled_length(length, header.sample_rate, rate) if header.resampled else length
            frames = -(-m // hop)
            out.append(Block(start, length, frames * hop, frames))
        return out

    def header_for(self, num_samples: int, channels: int, sample_rate: int, bit_depth: int) -> Header:
        block = max(1, round(self.block_seconds * sample_rate))
        resampled = self.resample_to_model and sample_rate != self.model.sample_rate
        return Header(self.fingerprint, self.codebooks, resampled, self.target_rms is not None, block, sample_rate,
                      num_samples, channels, bit_depth)

    # ---------------------------------------------------------------------------- model side

    def _model_input(self, x: np.ndarray, block: Block, header: Header) -> Any:
        """(length, group channels) integers -> float32 (model channels, model_length) at the model's rate."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(x.T, dtype=np.float32)) / float(1 << (header.bit_depth - 1))
        if t.shape[0] < self.model.channels:
            t = torch.cat([t, t[-1:].expand(self.model.channels - t.shape[0], -1)])
        if header.resampled:
            t = resample(t, header.sample_rate, self.model_rate(header))
        return torch.nn.functional.pad(t, (0, block.model_length - t.shape[1]))

    def reconstruct(self, codes: Any, scale: float | None, block: Block, header: Header, channels: int) -> np.ndarray:
        """The rounded, clipped reconstruction ``(block.length, channels)`` (int64) decoded from codes."""
        import torch

        y = self.model.decode(codes, scale)
        if y.shape[1] < block.model_length:
            y = torch.nn.functional.pad(y, (0, block.model_length - y.shape[1]))
        y = y[:, : block.model_length]
        if header.resampled:
            y = resample(y, self.model_rate(header), header.sample_rate)
        y = y[:channels, : block.length].double().numpy().T
        top = 1 << (header.bit_depth - 1)
        return np.clip(np.rint(y * top), -top, top - 1).astype(np.int64)

    # ------------------------------------------------------------------------------- encode

    def encode(self, samples: np.ndarray, sample_rate: int, bit_depth: int) -> Encoded:
        """Code ``(num_samples, channels)`` integers; returns the stream and its bit breakdown."""
        samples = np.asarray(samples)
        if samples.ndim != 2 or samples.shape[0] == 0 or samples.dtype.kind != "i":
            raise NacError("samples must be a non-empty (num_samples, channels) signed integer array")
        if samples.shape[1] > 255:
            raise NacError("at most 255 channels")
        if not MIN_DEPTH <= bit_depth <= MAX_DEPTH:
            raise NacError(
                f"NAC codes {MIN_DEPTH} to {MAX_DEPTH}-bit audio (the model sees samples as float32, exact up to"
                f" 24 bits); this file is {bit_depth}-bit"
            )
        header = self.header_for(samples.shape[0], samples.shape[1], sample_rate, bit_depth)
        start = time.perf_counter()
        recon = np.empty(samples.shape, dtype=np.int64)
        codes_all, scales = [], []
        for group in self.groups(header.channels):
            for block in self.blocks(header):
                x = samples[block.start : block.start + block.length, list(group)]
                xm = self._model_input(x, block, header)
                scale = self.model.scale(xm, self.target_rms)
                codes = self.model.encode(xm, self.codebooks, scale)
                if tuple(codes.shape) != (self.codebooks, block.frames):
                    raise NacError(f"model gave codes of shape {tuple(codes.shape)}, expected "
                                   f"{(self.codebooks, block.frames)}")
                recon[block.start : block.start + block.length, list(group)] = self.reconstruct(
                    codes, scale, block, header, len(group))
                codes_all.append(codes.numpy().ravel())
                if scale is not None:
                    scales.append(scale)
        modelled = time.perf_counter()
        residual = samples.astype(np.int64) - recon
        flat = np.ascontiguousarray(residual.T).ravel()
        code_data = pack_codes(np.concatenate(codes_all), self.width)
        scale_data = pack_scales(scales) if scales else b""
        rice_data = rice.encode_blocks(flat, RICE_BLOCK, MAX_PARTITION_ORDER)
        data = header.pack() + code_data + scale_data + rice_data
        done = time.perf_counter()
        n_codes = sum(c.size for c in codes_all)
        rice_bits = rice.blocks_bit_count(flat, RICE_BLOCK, MAX_PARTITION_ORDER)
        bits = {
            "header": 8 * HEADER.size,
            "codes": n_codes * self.width,
            "scales": 16 * len(scales),
            "residual": rice_bits,
            "padding": 8 * len(code_data) - n_codes * self.width + 8 * len(rice_data) - rice_bits,
        }
        bits["total"] = sum(bits.values())
        if bits["total"] != 8 * len(data):
            raise AssertionError(f"bit breakdown {bits['total']} != stream {8 * len(data)}")
        return Encoded(data, bits, n_codes * float(np.log2(self.model.codebook_size)), residual,
                       {"model": modelled - start, "rice": done - modelled})

    # ------------------------------------------------------------------------------- decode

    def decode(self, data: bytes) -> tuple[np.ndarray, int, int]:
        """The exact samples ``(num_samples, channels)`` (int64), sample rate and bit depth of a stream."""
        import torch

        header = Header.unpack(data)
        if header.fingerprint != self.fingerprint:
            raise NacStreamError(f"the stream was coded with model {header.fingerprint}; these weights are "
                                 f"{self.fingerprint}")
        if header.codebooks > self.model.max_codebooks:
            raise NacStreamError(f"the stream uses {header.codebooks} codebooks; the model has "
                                 f"{self.model.max_codebooks}")
        if header.resampled and header.sample_rate == self.model.sample_rate:
            raise NacStreamError("the stream says 'resampled' but its rate is the model's")
        blocks = self.blocks(header)
        groups = self.groups(header.channels)
        pos = HEADER.size
        n_codes = len(groups) * sum(header.codebooks * b.frames for b in blocks)
        codes = unpack_codes(data[pos:], n_codes, self.width)
        if codes.size and codes.max() >= self.model.codebook_size:
            raise NacStreamError("a code lies outside the model's codebook")
        pos += (n_codes * self.width + 7) // 8
        scales: list[float | None] = [None] * (len(groups) * len(blocks))
        if header.scaled:
            scales = list(unpack_scales(data[pos:], len(scales)))
            pos += 2 * len(scales)
        residual = rice.decode_blocks(data[pos:], header.num_samples * header.channels, RICE_BLOCK)
        residual = residual.reshape(header.channels, header.num_samples).T
        out = np.empty((header.num_samples, header.channels), dtype=np.int64)
        i = k = 0
        for group in groups:
            for block in blocks:
                count = header.codebooks * block.frames
                c = torch.from_numpy(codes[i : i + count].reshape(header.codebooks, block.frames))
                i += count
                y = self.reconstruct(c, scales[k], block, header, len(group))
                k += 1
                rows = slice(block.start, block.start + block.length)
                out[rows, list(group)] = y + residual[rows, list(group)]
        top = 1 << (header.bit_depth - 1)
        if out.size and (out.min() < -top or out.max() >= top):
            raise NacStreamError(f"decoded samples exceed {header.bit_depth} bits (corrupt stream or other model)")
        return out, header.sample_rate, header.bit_depth
