"""The default hybrid model: the folder shipped inside the package, used when no ``--model`` is given."""

from __future__ import annotations

from pathlib import Path

from trilobyte.hybrid.model import SETTINGS_FILE, ModelError

DEFAULT_MODEL = Path(__file__).resolve().parent / "default_model"


class NoDefaultModel(ModelError):
    """No model was named and none is installed with the package."""


def resolve_model(given: Path | str | None) -> Path:
    """``given`` when named, else the installed default model's folder (``NoDefaultModel`` when absent)."""
    if given is not None:
        return Path(given)
    if not (DEFAULT_MODEL / SETTINGS_FILE).is_file():
        raise NoDefaultModel(
            "no default model is installed; pass --model DIR (train one with python -m trilobyte.hybrid.train)"
        )
    return DEFAULT_MODEL
