"""The bench core every method uses: audio I/O, datasets, the estimator protocol, results, the method
registry, the shared CLI skeleton and runner, and the container the toolkit's own codecs write."""
