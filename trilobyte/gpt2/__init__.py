"""The Trilobyte method: byte-level (or sample-level) tokens of integer PCM modelled by a Hugging Face GPT-2,
its training, rate estimation, and the ``.trb`` codec that range-codes audio under the model."""
