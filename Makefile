PY := .venv/bin/python

.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

# The main job: every method on the demo corpus's test split with CPU-sized presets, then the report
# (reports/demo/REPORT.md and report.html). See scripts/demo.sh.
demo: setup
	bash scripts/demo.sh

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
