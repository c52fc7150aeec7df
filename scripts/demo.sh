#!/usr/bin/env bash
# The main job: every method on the demo corpus's test split with CPU-sized presets, then the report.
# Re-running it skips finished results and finished training; results go to reports/results, models to
# models/demo, the report to reports/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=reports/results
MODELS=models/demo
step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "FLAC levels 0-8, stock and subframes disabled"
$PY -m baselines.flac_sweep --split test --out "$OUT" --no-progress

step "classical codecs beside flac -8"
$PY -m baselines.classical --codec all --split test --out "$OUT" --no-progress

# Trilobyte: the CPU settings of benchmarks/trilobyte_cpu_study.md (small preset, context 256).
TRAIN=(--preset small --context 256 --batch-size 16 --lr 3e-3 --warmup 30 --steps 350 --threads 1 --no-progress)
trained() { [ -f "$1/model.safetensors" ]; }  # written when training finishes (checkpoints go to $1/checkpoint)
step "Trilobyte on 8-bit mu-law speech"
trained "$MODELS/speech-mulaw8" || $PY -m trilobyte.train --dataset demo-speech-mulaw8 "${TRAIN[@]}" --out "$MODELS/speech-mulaw8"
$PY -m trilobyte.estimate --model "$MODELS/speech-mulaw8" --dataset demo-speech-mulaw8 --split test --stride 256 \
    --threads 1 --out "$OUT" --no-progress

step "Standard (sample-level) on 8-bit mu-law speech"
trained "$MODELS/speech-mulaw8-sample" || $PY -m trilobyte.train --dataset demo-speech-mulaw8 --scheme sample \
    "${TRAIN[@]}" --out "$MODELS/speech-mulaw8-sample"
$PY -m trilobyte.estimate --model "$MODELS/speech-mulaw8-sample" --dataset demo-speech-mulaw8 --split test \
    --stride 256 --threads 1 --out "$OUT" --no-progress

step "Transfer: one 24-bit model with low-byte masking, evaluated at 8, 16 and 24 bits"
trained "$MODELS/transfer" || $PY -m trilobyte.train --dataset demo-24bit --dataset demo-music --model-bit-depth 24 \
    --depth-dropout 8=0.3,16=0.3 "${TRAIN[@]}" --out "$MODELS/transfer"
# stride 255: windows must start on whole 24-bit samples (3 tokens each)
$PY -m trilobyte.estimate --model "$MODELS/transfer" --dataset demo-music-linear8 --dataset demo-music \
    --dataset demo-24bit --split test --stride 255 --threads 1 --out "$OUT" --no-progress

step "Custom DAC + Rice (Appendix B)"
[ -f "$MODELS/custom-dac/model.safetensors" ] || $PY -m baselines.nac train --dataset demo-music --preset cpu \
    --steps 300 --out "$MODELS/custom-dac"
$PY -m baselines.nac --codec custom-dac --weights "$MODELS/custom-dac" --dataset demo-music --split test \
    --out "$OUT" --no-progress
$PY -m baselines.flac_frames --dataset demo-music --split test --out "$OUT" --no-progress

step "in-context LLM (SmolLM2-135M), 10 chunks of 1024 samples per dataset"
$PY -m baselines.llm_incontext --dataset demo-speech-mulaw8 --dataset demo-speech --split test --chunks 10 \
    --mapping ascii7,latin1,bytes --threads 1 --out "$OUT" --no-progress

step "report"
$PY analysis/make_report.py --results "$OUT" --out reports/demo
