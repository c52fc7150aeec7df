PY := .venv/bin/python

.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

# The main job: every method on the demo corpus (the FLAC sweep, then the classical codecs beside flac -8).
demo: setup
	$(PY) -m baselines.flac_sweep --out reports/results
	$(PY) -m baselines.classical --codec all --out reports/results

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
