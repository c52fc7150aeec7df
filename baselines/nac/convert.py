"""Original DAC and EnCodec checkpoints into transformers' ``DacModel`` / ``EncodecModel``, by state dict.

The ``descript-audio-codec`` and ``encodec`` packages import torchaudio, which does not load beside
the CPU torch this project pins; their checkpoint files are plain tensors and basic Python values,
so they are read here with ``torch.load(..., weights_only=True)`` (no code is unpickled) and their
tensors renamed into the transformers layout.

**DAC** (``weights_44khz_8kbps_0.0.1.pth`` and the like): ``{"state_dict": ..., "metadata":
{"kwargs": {...}}}``. The kwargs give the config (``encoder_dim`` -> ``encoder_hidden_size``,
``encoder_rates`` -> ``downsampling_ratios``, ``latent_dim`` -> ``hidden_size`` (default
``encoder_dim * 2**len(encoder_rates)``), ``decoder_dim``, ``decoder_rates``, ``n_codebooks``,
``codebook_size``, ``codebook_dim``, ``quantizer_dropout``, ``sample_rate``). Names map as

    encoder.block.0 -> encoder.conv1            encoder.block.{i}.block.{j}.block.{0,1,2,3}
    encoder.block.{n+1} -> encoder.snake1           -> encoder.block.{i-1}.res_unit{j+1}.{snake1,conv1,snake2,conv2}
    encoder.block.{n+2} -> encoder.conv2         encoder.block.{i}.block.3 -> encoder.block.{i-1}.snake1
    decoder.model.0 -> decoder.conv1            encoder.block.{i}.block.4 -> encoder.block.{i-1}.conv1
    decoder.model.{n+1} -> decoder.snake1        decoder.model.{i}.block.0 -> decoder.block.{i-1}.snake1
    decoder.model.{n+2} -> decoder.conv2         decoder.model.{i}.block.1 -> decoder.block.{i-1}.conv_t1
    quantizer.quantizers.{q}.* unchanged        decoder.model.{i}.block.{j}.block.{k} (j = 2, 3, 4)
                                                    -> decoder.block.{i-1}.res_unit{j-1}.{...}

(``n`` = number of strides). DAC's convolutions are weight-normalized (``weight_g``, ``weight_v``) and
transformers' ``DacModel`` holds plain weights, so each pair becomes ``weight = g * v / ||v||`` with the
norm over every dimension but the first (what ``torch.nn.utils.remove_weight_norm`` computes).

**EnCodec** (``encodec_24khz-d7cc33bc.th``, ``encodec_48khz-7e698e3e.th``): a bare state dict. A
checkpoint with ``.norm.`` tensors (time-group norm) is the 48 kHz stereo model, otherwise the 24 kHz
mono one (:func:`baselines.nac.models.encodec_config`). Names map as

    encoder.model.{i}.conv.conv.* / decoder.model.{i}.conv.conv.*  -> {en,de}coder.layers.{i}.conv.*
    *.model.{i}.conv.norm.*                                         -> *.layers.{i}.norm.*
    *.model.{i}.block.{j}.conv.conv.* / .conv.norm.*                -> *.layers.{i}.block.{j}.conv.* / .norm.*
    *.model.{i}.shortcut.conv.conv.* / .conv.norm.*                 -> *.layers.{i}.shortcut.conv.* / .norm.*
    decoder.model.{i}.convtr.convtr.* / .convtr.norm.*              -> decoder.layers.{i}.conv.* / .norm.*
    *.model.{i}.lstm.*                                              -> *.layers.{i}.lstm.*
    quantizer.vq.layers.{q}._codebook.*                             -> quantizer.layers.{q}.codebook.*

and weight-norm pairs ``weight_g`` / ``weight_v`` become transformers' parametrization tensors
``parametrizations.weight.original0`` / ``original1``. Every tensor must land on a tensor of the same
shape and every model tensor must be filled, or the conversion stops with the names that did not fit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from baselines.nac.configs import NacError, encodec_config


def _weight_from_norm(g: Any, v: Any) -> Any:
    dims = tuple(range(1, v.dim()))
    return g * v / v.norm(dim=dims, keepdim=True)


def dac_config_from_kwargs(kwargs: dict[str, Any]) -> Any:
    """transformers' ``DacConfig`` from an original DAC checkpoint's ``metadata["kwargs"]``."""
    from transformers import DacConfig

    encoder_dim = int(kwargs.get("encoder_dim", 64))
    rates = list(kwargs.get("encoder_rates", [2, 4, 8, 8]))
    latent = kwargs.get("latent_dim") or encoder_dim * 2 ** len(rates)
    return DacConfig(
        encoder_hidden_size=encoder_dim,
        downsampling_ratios=rates,
        hidden_size=int(latent),
        decoder_hidden_size=int(kwargs.get("decoder_dim", 1536)),
        upsampling_ratios=list(kwargs.get("decoder_rates", [8, 8, 4, 2])),
        n_codebooks=int(kwargs.get("n_codebooks", 9)),
        codebook_size=int(kwargs.get("codebook_size", 1024)),
        codebook_dim=int(kwargs.get("codebook_dim", 8)),
        quantizer_dropout=float(kwargs.get("quantizer_dropout", 0.0)),
        sampling_rate=int(kwargs.get("sample_rate", 44100)),
    )


_RES_PARTS = ("snake1", "conv1", "snake2", "conv2")


def dac_name(name: str, strides: int) -> str | None:
    """The transformers name of an original DAC module path (without the tensor's own name), or None."""
    if name.startswith("quantizer.quantizers."):
        return name
    m = re.fullmatch(r"encoder\.block\.(\d+)(?:\.block\.(\d+)(?:\.block\.(\d+))?)?", name)
    if m:
        i, j, k = (None if g is None else int(g) for g in m.groups())
        if j is None:
            return {0: "encoder.conv1", strides + 1: "encoder.snake1", strides + 2: "encoder.conv2"}.get(i)
        if k is None:
            return {3: f"encoder.block.{i - 1}.snake1", 4: f"encoder.block.{i - 1}.conv1"}.get(j)
        return f"encoder.block.{i - 1}.res_unit{j + 1}.{_RES_PARTS[k]}" if j < 3 and k < 4 else None
    m = re.fullmatch(r"decoder\.model\.(\d+)(?:\.block\.(\d+)(?:\.block\.(\d+))?)?", name)
    if m:
        i, j, k = (None if g is None else int(g) for g in m.groups())
        if j is None:
            return {0: "decoder.conv1", strides + 1: "decoder.snake1", strides + 2: "decoder.conv2"}.get(i)
        if k is None:
            return {0: f"decoder.block.{i - 1}.snake1", 1: f"decoder.block.{i - 1}.conv_t1"}.get(j)
        return f"decoder.block.{i - 1}.res_unit{j - 1}.{_RES_PARTS[k]}" if 2 <= j <= 4 and k < 4 else None
    return None


def convert_dac(checkpoint: dict[str, Any]) -> Any:
    """A ``DacModel`` from an original DAC checkpoint dict."""
    from transformers import DacModel

    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "metadata" not in checkpoint:
        raise NacError("not an original DAC checkpoint: expected a dict with 'state_dict' and 'metadata'")
    config = dac_config_from_kwargs(dict(checkpoint["metadata"].get("kwargs", {})))
    model = DacModel(config)
    strides = len(config.downsampling_ratios)
    source = checkpoint["state_dict"]
    target: dict[str, Any] = {}
    unknown = []
    for key in source:
        module, _, tensor = key.rpartition(".")
        if tensor == "weight_v":
            continue
        mapped = dac_name(module, strides)
        if mapped is None:
            unknown.append(key)
        elif tensor == "weight_g":
            if f"{module}.weight_v" not in source:
                unknown.append(key + " (no weight_v beside it)")
                continue
            target[f"{mapped}.weight"] = _weight_from_norm(source[key], source[f"{module}.weight_v"])
        else:
            target[f"{mapped}.{tensor}"] = source[key]
    _load(model, target, unknown, "DAC")
    return model


def encodec_name(key: str) -> str | None:
    """The transformers name of an original EnCodec tensor, or None."""
    m = re.fullmatch(r"quantizer\.vq\.layers\.(\d+)\._codebook\.(\w+)", key)
    if m:
        return f"quantizer.layers.{m[1]}.codebook.{m[2]}"
    m = re.fullmatch(r"(encoder|decoder)\.model\.(\d+)\.(.+)", key)
    if not m:
        return None
    side, index, rest = m.groups()
    rules = (
        (r"lstm\.(\w+)", r"lstm.\1"),
        (r"(?:conv\.conv|convtr\.convtr)\.(\w+)", r"conv.\1"),
        (r"(?:conv|convtr)\.norm\.(\w+)", r"norm.\1"),
        (r"(block\.\d+|shortcut)\.conv\.conv\.(\w+)", r"\1.conv.\2"),
        (r"(block\.\d+|shortcut)\.conv\.norm\.(\w+)", r"\1.norm.\2"),
    )
    for pattern, replacement in rules:
        if re.fullmatch(pattern, rest):
            tail = re.sub(pattern, replacement, rest)
            tail = tail.replace("weight_g", "parametrizations.weight.original0")
            tail = tail.replace("weight_v", "parametrizations.weight.original1")
            return f"{side}.layers.{index}.{tail}"
    return None


def convert_encodec(state: dict[str, Any]) -> Any:
    """An ``EncodecModel`` from an original EnCodec state dict (24 kHz or 48 kHz, told by its norms)."""
    from transformers import EncodecModel


    if not isinstance(state, dict) or not any(k.startswith("encoder.model.") for k in state):
        raise NacError("not an original EnCodec checkpoint: expected a state dict with 'encoder.model.*' tensors")
    stereo = any(".norm." in k for k in state)
    model = EncodecModel(encodec_config("48khz" if stereo else "24khz"))
    target, unknown = {}, []
    for key, value in state.items():
        mapped = encodec_name(key)
        if mapped is None:
            unknown.append(key)
        else:
            target[mapped] = value
    _load(model, target, unknown, "EnCodec")
    return model


def _load(model: Any, target: dict[str, Any], unknown: list[str], label: str) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(target))
    extra = sorted(set(target) - set(own))
    wrong = sorted(k for k in set(own) & set(target) if tuple(own[k].shape) != tuple(target[k].shape))
    if unknown or missing or extra or wrong:
        parts = [f"{name}: {', '.join(keys[:6])}{' ...' if len(keys) > 6 else ''}"
                 for name, keys in (("unrecognised tensors", unknown), ("model tensors not filled", missing),
                                    ("names the model lacks", extra), ("shape mismatches", wrong)) if keys]
        raise NacError(f"the {label} checkpoint does not fit the transformers model; " + "; ".join(parts))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in target.items()})


def load_original(path: Path | str, kind: str) -> Any:
    """An original package's checkpoint file as a transformers model (``kind`` "dac" or "encodec")."""
    import pickle

    import torch

    try:
        checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise NacError(f"{path}: not a checkpoint torch.load can read with weights_only=True ({err})") from err
    return convert_encodec(checkpoint) if kind == "encodec" else convert_dac(checkpoint)
