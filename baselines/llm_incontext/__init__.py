"""The in-context LLM baseline: audio bytes as text through a pretrained causal language model (Appendix C)."""
