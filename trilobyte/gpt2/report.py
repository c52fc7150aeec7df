"""How a Trilobyte model's results show in the report: Standard, Trilobyte or Transfer, from its config."""

from __future__ import annotations

from typing import Any


def trilobyte_report(config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Table 1 column and label of a Trilobyte model's result, from its saved config.

    Standard (sample tokens), Transfer (one model over several datasets, or low bytes masked) or Trilobyte.
    """
    tokenizer = config.get("tokenizer") or {}
    if tokenizer.get("scheme") == "sample":
        column = "Standard"
    elif len(config.get("trained_on") or []) > 1 or tokenizer.get("depth_dropout"):
        column = "Transfer"
    else:
        column = "Trilobyte"
    return (column,), f"{column} {config.get('model')} ({config.get('preset')})"
