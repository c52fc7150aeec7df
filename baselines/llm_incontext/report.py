"""How the in-context LLM's results show in the report: their Table 1 column and label, from their config."""

from __future__ import annotations

from typing import Any


def incontext_report(config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Table 1 column and label of an in-context result, from its saved config.

    The paper's mapping (Deletang et al.'s right shift, ascii7) is its "In-context" column; every other
    mapping is a column of its own.
    """
    mapping = config.get("mapping")
    column = "In-context" if mapping == "ascii7" else f"In-context {mapping}"
    return (column,), f"{config.get('model_label') or config.get('model')} ({mapping})"
