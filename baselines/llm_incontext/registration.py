"""The in-context LLM baseline's registration (Table 1's "In-context" column)."""

from __future__ import annotations

from typing import Any

from trilobyte.core.methods import Column, Method


def make_incontext(**settings: Any) -> Any:
    """``get_method("llm-incontext", model=..., mapping="ascii7", chunks=1000, coded=False, ...)``."""
    from baselines.llm_incontext.method import InContextLLM, LLMSettings

    return InContextLLM(LLMSettings(**settings))


def incontext_report(config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Table 1 column and label of an in-context result, from its saved config.

    The paper's mapping (Deletang et al.'s right shift, ascii7) is its "In-context" column; every other
    mapping is a column of its own.
    """
    mapping = config.get("mapping")
    column = "In-context" if mapping == "ascii7" else f"In-context {mapping}"
    return (column,), f"{config.get('model_label') or config.get('model')} ({mapping})"


METHOD = Method(
    "llm-incontext", make_incontext, "in-context LLM", "In-context", 20,
    requires=("torch", "transformers", "safetensors", "gguf", "constriction"),
    description="audio bytes as text through a pretrained causal LM (default SmolLM2-135M, offline)",
    command="python -m baselines.llm_incontext",
    columns=(Column("In-context", 20, paper=True,
                    fill="python -m baselines.llm_incontext --dataset {dataset} --split {split}"),),
    figures=("in-context",), saved_report=incontext_report,
)
