"""Neural audio codecs for the NAC baselines: Hugging Face ``DacModel`` and ``EncodecModel``, loaded locally.

A :class:`NacModel` wraps one model behind the four calls the pipeline needs, on one block of audio
at a time (float32 tensors ``(channels, time)`` in [-1, 1] at the model's rate):

- ``scale(x, target)``: the block's gain, RMS of the channel mean (+ 1e-8) over ``target``, rounded
  to float16 (the stored value, so encoder and decoder use the same one);
- ``encode(x, n, scale)``: the first ``n`` codebooks' codes, ``(n, frames)`` integers, of ``x / scale``;
- ``decode(codes, scale)``: the reconstruction ``(channels, frames * hop)``, times ``scale``.

Gain normalization is EnCodec's own when its config normalizes (target RMS 1). DAC's own pipeline
normalizes loudness to -16 dB before encoding (``DAC.compress``): here DAC models take a per-block
gain to an RMS of ``10**(-16/20)`` by default, and the Custom DAC the target it was trained with
(``target_rms`` in its ``nac.json``); the pipeline can switch it off for DAC models.

The reconstruction comes from the codes alone (``quantizer.from_codes`` / ``quantizer.decode`` and the
decoder), never from the encoder's straight-through activations, so the decoder computes exactly what
the encoder did. Weights load from a local path only (``--weights``): a folder written by
``save_pretrained`` (``config.json`` + ``model.safetensors``, as ``python -m baselines.nac train`` and
:func:`save_random_model` write them), or an original checkpoint file of the ``descript-audio-codec`` or
``encodec`` packages, converted by :mod:`baselines.nac.convert`. A ``nac.json`` beside a folder's
weights says where they came from (trained here, random initialisation, converted).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.nac.configs import NacError, dac_config, encodec_config

CODECS = ("dac", "encodec", "custom-dac")
INFO_FILE = "nac.json"
SCALE_MIN = 2.0**-14  # scales are stored as float16; the smallest normal float16 keeps x / scale finite
SCALE_MAX = 65504.0
DAC_TARGET_RMS = 10 ** (-16 / 20)  # DAC.compress normalizes to -16 dB


def model_type(codec: str) -> str:
    """The transformers ``model_type`` a ``--codec`` value needs."""
    if codec not in CODECS:
        raise NacError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    return "encodec" if codec == "encodec" else "dac"


@dataclass
class NacModel:
    """One loaded codec (eval mode, float32, CPU) and what the pipeline needs to know of it."""

    codec: str
    model: Any
    origin: dict[str, Any]

    @property
    def kind(self) -> str:
        return model_type(self.codec)

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def sample_rate(self) -> int:
        return int(self.config.sampling_rate)

    @property
    def channels(self) -> int:
        return int(getattr(self.config, "audio_channels", 1)) if self.kind == "encodec" else 1

    @property
    def hop_length(self) -> int:
        ratios = self.config.upsampling_ratios if self.kind == "encodec" else self.config.downsampling_ratios
        return int(math.prod(ratios))

    @property
    def codebook_size(self) -> int:
        return int(self.config.codebook_size)

    @property
    def max_codebooks(self) -> int:
        if self.kind == "encodec":
            return int(self.config.num_quantizers)
        return int(self.config.n_codebooks)

    @property
    def target_rms(self) -> float | None:
        """The RMS a block is scaled to before encoding: EnCodec's config decides (1 or none); DAC models
        take ``target_rms`` from ``nac.json`` (None there: no scaling), else DAC's -16 dB."""
        if self.kind == "encodec":
            return 1.0 if self.config.normalize else None
        value = self.origin.get("target_rms", DAC_TARGET_RMS)
        return None if value is None else float(value)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def weight_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.model.state_dict().values())

    def fingerprint(self) -> str:
        """sha256 of the config, the target RMS and every tensor (names, shapes, bytes): 16 hex digits."""
        import torch

        h = hashlib.sha256(self.config.to_json_string(use_diff=False).encode())
        h.update(repr(self.target_rms).encode())
        for name, tensor in sorted(self.model.state_dict().items()):
            t = tensor.detach().contiguous().cpu()
            h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        return h.hexdigest()[:16]

    @staticmethod
    def scale(x: Any, target: float | None) -> float | None:
        """A block's gain: (RMS of the channel mean + 1e-8) / target, as float16; None without a target."""
        if target is None:
            return None
        import numpy as np

        value = (float(x.mean(dim=0).pow(2).mean().sqrt()) + 1e-8) / target
        return float(np.float16(min(max(value, SCALE_MIN), SCALE_MAX)))

    def encode(self, x: Any, n_codebooks: int, scale: float | None = None) -> Any:
        """Codes ``(n_codebooks, frames)`` of one block ``x`` ``(channels, time)``, time a multiple of hop."""
        import torch

        with torch.inference_mode():
            batch = x[None] if scale is None else x[None] / scale
            if self.kind == "dac":
                latents = self.model.encoder(batch)
                codes = self.model.quantizer(latents, n_codebooks)[1]
                return codes[0, :n_codebooks]
            embeddings = self.model.encoder(batch)
            residual, codes = embeddings, []
            for layer in self.model.quantizer.layers[:n_codebooks]:
                index = layer.encode(residual)
                residual = residual - layer.decode(index)
                codes.append(index)
            return torch.stack(codes)[:, 0]

    def decode(self, codes: Any, scale: float | None = None) -> Any:
        """The reconstruction ``(channels, frames * hop)`` from codes ``(n, frames)`` (and the scale)."""
        import torch

        with torch.inference_mode():
            if self.kind == "dac":
                out = self.model.decoder(self.model.quantizer.from_codes(codes[None])[0])[0]
            else:
                out = self.model.decoder(self.model.quantizer.decode(codes[:, None]))[0]
            return out * scale if scale is not None else out


def deterministic_torch(threads: int = 1) -> None:
    """One CPU thread and deterministic kernels: the encoder's and a fresh decoder's floats agree."""
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def _model_class(kind: str) -> Any:
    from transformers import DacModel, EncodecModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    return EncodecModel if kind == "encodec" else DacModel


def read_origin(folder: Path) -> dict[str, Any]:
    path = folder / INFO_FILE
    if path.exists():
        return json.loads(path.read_text())
    return {"origin": "transformers folder", "note": f"no {INFO_FILE}: where the weights came from is not recorded"}


def load_model(codec: str, weights: Path | str | None) -> NacModel:
    """The codec's model from a local folder or original checkpoint file (never from the network)."""
    kind = model_type(codec)
    if weights is None:
        package = "encodec" if kind == "encodec" else "descript-audio-codec"
        trained = ", a folder written by 'python -m baselines.nac train'," if codec == "custom-dac" else ""
        raise NacError(
            f"--codec {codec} needs --weights PATH: a transformers model folder (config.json +"
            f" model.safetensors){trained} or an original {package} checkpoint file (.pth / .th);"
            " nothing is downloaded"
        )
    path = Path(weights).expanduser()
    if not path.exists():
        raise NacError(f"codec weights not found: {path}")
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.exists():
            raise NacError(f"{path}: not a transformers model folder (no config.json)")
        found = json.loads(config_file.read_text()).get("model_type")
        if found != kind:
            raise NacError(f"{path} holds a {found!r} model; --codec {codec} needs a {kind!r} model")
        model = _model_class(kind).from_pretrained(path, local_files_only=True)
        origin = read_origin(path)
    else:
        from baselines.nac.convert import load_original

        model = load_original(path, kind)
        origin = {"origin": "converted", "checkpoint": path.name,
                  "note": "original package checkpoint, state dict converted by baselines.nac.convert"}
    model = model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return NacModel(codec, model, origin)


def save_random_model(codec: str, preset: str, folder: Path | str, seed: int = 0) -> Path:
    """A randomly initialised model saved as a transformers folder, labelled as such in ``nac.json``.

    EnCodec's codebooks start as zeros in transformers (they are learned by k-means in training);
    here they are drawn from a normal distribution so that codes vary.
    """
    import torch

    kind = model_type(codec)
    torch.manual_seed(seed)
    config = encodec_config(preset) if kind == "encodec" else dac_config(preset)
    model = _model_class(kind)(config)
    if kind == "encodec":
        with torch.no_grad():
            for layer in model.quantizer.layers:
                layer.codebook.embed.normal_(0.0, 1.0)
                layer.codebook.embed_avg.copy_(layer.codebook.embed)
    folder = Path(folder)
    model.save_pretrained(folder)
    info = {"origin": "random-init", "codec": codec, "preset": preset, "seed": seed,
            "note": "randomly initialised, untrained: for tests and pipeline checks, not a codec's rate"}
    (folder / INFO_FILE).write_text(json.dumps(info, indent=1) + "\n")
    return folder
