PY := .venv/bin/python

.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

# The main job: every method on the demo corpus, then the report (reports/demo/REPORT.md).
# Every method runs on the demo datasets' test split, so that Table 1 compares the same files.
demo: setup
	$(PY) -m baselines.flac_sweep --split test --out reports/results
	$(PY) -m baselines.classical --codec all --split test --out reports/results
	$(PY) analysis/make_report.py --results reports/results --out reports/demo

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
