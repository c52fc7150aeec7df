"""Classical lossless codecs and general-purpose compressors in the benchmark's harness.

``python -m baselines.classical --codec NAME``; see :mod:`baselines.classical.cli`. Modules:
``pcm`` (raw PCM bytes), ``containers`` (payload vs container per format), ``commands`` (any
command-line codec, built in or from a TOML file), ``codecs`` (the built-in codecs), ``general``
(gzip, bzip2, xz, zstd on raw PCM bytes), ``cli`` (the command and its table).
"""
