"""trilobyte-bench: lossless audio compression with language models, beside the classical codecs."""

__version__ = "0.1.0"
