PY := .venv/bin/python

.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

# The main job: every method on the demo corpus (for now the FLAC sweep).
demo: setup
	$(PY) -m baselines.flac_sweep --out reports/results

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
