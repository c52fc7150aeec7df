"""The in-context LLM baseline's registration (Table 1's "In-context" column): audio bytes as text through a
pretrained causal LM (default SmolLM2-135M, offline)."""

from __future__ import annotations

from typing import Any

from baselines.llm_incontext.report import incontext_report
from trilobyte.core.methods import Column, Method


def make_incontext(**settings: Any) -> Any:
    """``get_method("llm-incontext", model=..., mapping="ascii7", chunks=1000, coded=False, ...)``."""
    from baselines.llm_incontext.method import InContextLLM, LLMSettings

    return InContextLLM(LLMSettings(**settings))


METHOD = Method(
    "llm-incontext", make_incontext, "in-context LLM", "In-context",
    requires=("torch", "transformers", "safetensors", "gguf", "constriction"),
    command="python -m baselines.llm_incontext",
    columns=(Column("In-context", paper=True,
                    fill="python -m baselines.llm_incontext --dataset {dataset} --split {split}"),),
    figures=("in-context",), report=incontext_report,
)
