"""GPT-2 models for Trilobyte: named presets, and save/load with the tokenization settings beside them.

A saved model is a folder: Hugging Face's ``config.json`` and ``model.safetensors``
(``save_pretrained``) plus ``trilobyte.json``, which holds the tokenizer settings and how the model was
made. Loading reads a local folder only; nothing is ever fetched from a hub.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trilobyte.core.hashing import file_sha256
from trilobyte.gpt2.tokenize import TokenizerSettings

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

SETTINGS_FILE = "trilobyte.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "trilobyte-gpt2"
FORMAT_VERSION = 1


class ModelError(ValueError):
    """A model folder that cannot be used: missing, incomplete, or not a Trilobyte model."""


@dataclass(frozen=True)
class Preset:
    """Architecture and the training defaults that suit it."""

    n_layer: int
    n_embd: int
    n_head: int
    context: int  # tokens the model sees at once (n_positions)
    learning_rate: float
    batch_size: int
    warmup: int
    description: str


PRESETS: dict[str, Preset] = {
    "tiny": Preset(2, 64, 2, 256, 3e-3, 8, 10, "CPU and CI: trains in seconds"),
    "small": Preset(3, 128, 4, 256, 3e-3, 32, 30, "CPU: learns in minutes"),
    "paper": Preset(
        12, 768, 12, 4096, 3e-4, 32, 2000, "the paper's GPT-2 (12 x 768, ~90M at 8-24 bits); GPU"
    ),
}


def gpt2_config(
    preset: str | Preset, settings: TokenizerSettings, context: int | None = None, dropout: float = 0.0
) -> Any:
    """The ``GPT2Config`` of a preset for a tokenizer's vocabulary."""
    from transformers import GPT2Config

    p = PRESETS[preset] if isinstance(preset, str) else preset
    return GPT2Config(
        vocab_size=settings.vocab_size,
        n_positions=context or p.context,
        n_embd=p.n_embd,
        n_layer=p.n_layer,
        n_head=p.n_head,
        activation_function="gelu_pytorch_tanh",  # GPT-2's tanh GELU, fused
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=settings.bos,
        eos_token_id=None,
        pad_token_id=settings.pad,
    )


def build_model(
    preset: str, settings: TokenizerSettings, context: int | None = None, dropout: float = 0.0, seed: int = 0
) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 of a named preset (``tiny``, ``small``, ``paper``)."""
    import torch
    from transformers import GPT2LMHeadModel

    if preset not in PRESETS:
        raise ModelError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    torch.manual_seed(seed)
    return GPT2LMHeadModel(gpt2_config(preset, settings, context, dropout))


def count_parameters(model: Any) -> int:
    """Distinct parameters (tied input and output embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def context_length(model: Any) -> int:
    return int(model.config.n_positions)


@dataclass
class ModelInfo:
    """What ``trilobyte.json`` records beside the weights."""

    settings: TokenizerSettings
    preset: str
    context: int
    parameters: int
    training: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settings"] = self.settings.to_dict()
        return {"format": FORMAT, "version": FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        if data.get("format") != FORMAT:
            raise ModelError(f"not a Trilobyte model description (format {data.get('format')!r})")
        if data.get("version") != FORMAT_VERSION:
            raise ModelError(f"model description version {data.get('version')} is not {FORMAT_VERSION}")
        return cls(
            TokenizerSettings.from_dict(data["settings"]),
            data["preset"],
            int(data["context"]),
            int(data["parameters"]),
            dict(data.get("training") or {}),
        )


def save_model(
    model: Any,
    settings: TokenizerSettings,
    directory: Path | str,
    preset: str,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write weights (safetensors), the HF config and ``trilobyte.json`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)  # unwrap DDP
    _quiet_transformers()
    model.save_pretrained(str(directory))
    if not (directory / WEIGHTS_FILE).exists():
        raise ModelError(f"{directory}: save_pretrained wrote no {WEIGHTS_FILE}")
    info = ModelInfo(settings, preset, context_length(model), count_parameters(model), training or {})
    tmp = directory / (SETTINGS_FILE + ".tmp")
    tmp.write_text(json.dumps(info.to_dict(), indent=1) + "\n")
    os.replace(tmp, directory / SETTINGS_FILE)
    return directory


def read_info(directory: Path | str) -> ModelInfo:
    """The tokenizer settings and record of a saved model, without loading its weights."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such model folder (models are loaded from a local folder only)")
    path = directory / SETTINGS_FILE
    if not path.exists():
        raise ModelError(f"{directory}: not a Trilobyte model folder (no {SETTINGS_FILE})")
    try:
        return ModelInfo.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        raise ModelError(f"{path}: unreadable ({err})") from err


def load_model(directory: Path | str, device: str = "cpu") -> tuple[GPT2LMHeadModel, ModelInfo]:
    """A saved model in eval mode on ``device``, with its settings; reads local files only."""
    from transformers import GPT2LMHeadModel

    directory = Path(directory).expanduser()
    info = read_info(directory)
    if not (directory / WEIGHTS_FILE).exists():
        raise ModelError(f"{directory}: no {WEIGHTS_FILE}")
    _quiet_transformers()
    model = GPT2LMHeadModel.from_pretrained(str(directory), local_files_only=True)
    if model.config.vocab_size != info.settings.vocab_size:
        raise ModelError(
            f"{directory}: vocabulary of {model.config.vocab_size} does not match its tokenizer settings"
            f" ({info.settings.vocab_size})"
        )
    return model.to(device).eval(), info


def _quiet_transformers() -> None:
    """No per-shard progress bars from transformers: our own bars say what is going on."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def weights_digest(directory: Path | str) -> str:
    """First 16 hex digits of the SHA-256 of the weights file: names a model in result configs."""
    return file_sha256(Path(directory) / WEIGHTS_FILE)[:16]


def weights_bytes(directory: Path | str) -> int:
    return (Path(directory) / WEIGHTS_FILE).stat().st_size
