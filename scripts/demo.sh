#!/usr/bin/env bash
# The main job: every method on the demo corpus's test split with CPU-sized presets, then the report.
# Re-running it skips finished results and finished training; results go to reports/results, models to
# models/demo, the report to reports/demo. Each step prints its start time; progress bars show when
# the output is a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=reports/results
MODELS=models/demo
QUIET=()
[ -t 2 ] || QUIET=(--no-progress)  # bars only on a terminal: a log file gets the step lines and messages
started=$(date +%s)
current=""
# Every job still running in the background (the hybrid training, the in-context LLM) stops with the
# script: when a step fails, on Ctrl-C or on a kill (finished results and models stay).
stop_background() {
    local pid
    for pid in $(jobs -pr); do kill "$pid" 2>/dev/null || true; done
}
trap stop_background EXIT
trap 'exit 130' INT  # exit, so that the EXIT trap runs (background jobs ignore the terminal's Ctrl-C)
trap 'exit 143' TERM
step() { current="$1"; printf '\n== %s (%s, %d min in)\n' "$1" "$(date +%H:%M:%S)" $((($(date +%s) - started) / 60)); }
# Every method's command exits 1 when any file failed (its results and rows are still written, and the
# report shows them): the job goes on and lists those steps at the end. Any other failure stops it.
with_failures=()
run() {
    local status=0
    "$@" || status=$?
    if [ "$status" -eq 1 ]; then
        with_failures+=("$current")
    elif [ "$status" -ne 0 ]; then
        echo "stopped: '$current' failed (exit $status)" >&2
        exit "$status"
    fi
}

step "FLAC levels 0-8, stock and subframes disabled"
run $PY -m baselines.flac_sweep --split test --out "$OUT" "${QUIET[@]}"
run $PY -m baselines.flac_sweep --dataset demo-speech48-linear8 --split test --out "$OUT" "${QUIET[@]}"

step "classical codecs beside flac -8"
run $PY -m baselines.classical --codec all --split test --out "$OUT" "${QUIET[@]}"

# Trilobyte: the small preset (3 x 128, context 256, batch 32 x 256, lr 3e-3; see
# benchmarks/trilobyte_cpu_study.md), a short run: 120 steps, 1-3 minutes of training each on 2 cores
# (training the Trilobyte models was half the job's time at 200 steps on a slow day).
TRAIN=(--preset small --steps 120 "${QUIET[@]}")
# Scoring windows side by side (stride 255: each window carries one token of the one before) takes half
# the time of the default stride (context / 2) for the same rate here (4.7322 against 4.7330 bits/byte).
SCORE=(--stride 255 "${QUIET[@]}")
# A model is reused only when the same training command made it: DIR/demo-recipe.txt holds that command
# (written when training finishes, beside model.safetensors); another recipe, or none, trains afresh
# (--overwrite: an old checkpoint is not resumed). --no-progress is left out of the recipe.
RECIPE=demo-recipe.txt
recipe() { local a; for a in "$@"; do [ "$a" = --no-progress ] || printf '%q ' "$a"; done; }
trained() {  # trained DIR COMMAND...: DIR holds a finished model of this very command
    [ -f "$1/model.safetensors" ] && [ -f "$1/$RECIPE" ] && [ "$(cat "$1/$RECIPE")" = "$(recipe "${@:2}")" ]
}
stamp() { recipe "${@:2}" > "$1/$RECIPE"; }  # stamp DIR COMMAND...: after the command trained DIR's model
train() {  # train DIR COMMAND...: the command (its --out DIR added) unless DIR already holds its model
    local dir=$1
    trained "$@" && return 0
    rm -f "$dir/$RECIPE"
    "${@:2}" --out "$dir" --overwrite
    stamp "$@"
}
step "Trilobyte on 8-bit mu-law speech"
train "$MODELS/speech-mulaw8" $PY -m trilobyte.train --dataset demo-speech-mulaw8 "${TRAIN[@]}"
run $PY -m trilobyte.estimate --model "$MODELS/speech-mulaw8" --dataset demo-speech-mulaw8 --split test \
    --out "$OUT" "${SCORE[@]}"
# No Standard (sample-level) model here: at 8 bits one sample is one byte, so its tokens are the byte
# tokens and it would be the model above again; the report's Table 1 says so in that column.

step "Transfer: one 24-bit model with low-byte masking, evaluated at 8, 16 and 24 bits"
train "$MODELS/transfer" $PY -m trilobyte.train --dataset demo-24bit --dataset demo-music --model-bit-depth 24 \
    --depth-dropout 8=0.3,16=0.3 "${TRAIN[@]}"
# stride 255: windows start on whole 24-bit samples (3 tokens each) and carry one token of context,
# which keeps this step short. The three 16-bit datasets give the FLAC correlation its three points;
# the 8-bit rate is taken on the short speech48 clip, since an 8-bit sample still costs this model
# three positions (two of them NULL) and music at 8 bits would add 3.5 minutes.
run $PY -m trilobyte.estimate --model "$MODELS/transfer" --dataset demo-speech48-linear8 --dataset demo-music \
    --dataset demo-speech --dataset demo-speech48 --dataset demo-24bit --split test --stride 255 \
    --out "$OUT" "${QUIET[@]}"

# The hybrid coder (integer cascade + small integer network, trilobyte/hybrid/): the default model
# installed with the package (trilobyte/hybrid/default_model/: one model for every depth, trained on the
# development corpus's and the demo's train splits, its checkpoint chosen on their valid splits; no
# --model means it), coded and verified on every test split; beside it the two ablations, trained here on
# the 16 and 24-bit demo sets (the cascade with a fixed distribution; the network without the cascade),
# and WavPack -hhx6 on the same files.
HYBRID_SETS=(--dataset demo-speech --dataset demo-speech48 --dataset demo-music --dataset demo-24bit)
HYBRID_TRAIN=("${HYBRID_SETS[@]}" --max-samples 1500000 --eval-every 250 --threads 1 "${QUIET[@]}")
step "Hybrid coder (default model), its ablations, and WavPack -hhx6 beside it"
train "$MODELS/hybrid-cascade-alone" $PY -m trilobyte.hybrid.train "${HYBRID_TRAIN[@]}" --steps 300 --fixed
train "$MODELS/hybrid-network-alone" $PY -m trilobyte.hybrid.train "${HYBRID_TRAIN[@]}" --steps 1200 \
    --settings '{"cascade": false}'
HYBRID_EVAL=("${HYBRID_SETS[@]}" --dataset demo-speech-mulaw8 --dataset demo-speech48-linear8 --split test
    --jobs 2 --out "$OUT" "${QUIET[@]}")
run $PY -m trilobyte.hybrid.evaluate "${HYBRID_EVAL[@]}"
run $PY -m trilobyte.hybrid.evaluate --model "$MODELS/hybrid-cascade-alone" \
    --model "$MODELS/hybrid-network-alone" "${HYBRID_EVAL[@]}"
run $PY -m baselines.classical --codec wavpack --preset hhx6 --no-with-flac "${HYBRID_SETS[@]}" --split test \
    --out "$OUT" "${QUIET[@]}"

# The in-context LLM runs on one thread beside the NAC step (itself one thread: its decoding must
# repeat the encoder's computation exactly), so the two cores are both busy; its log follows that step.
LLM_LOG=reports/demo/incontext-llm.log
mkdir -p reports/demo
step "in-context LLM (SmolLM2-135M), 5 chunks of 1024 samples per dataset, in the background -> $LLM_LOG"
$PY -m baselines.llm_incontext --dataset demo-speech-mulaw8 --dataset demo-speech --split test --chunks 5 \
    --mapping ascii7,latin1,bytes --threads 1 --out "$OUT" --no-progress > "$LLM_LOG" 2>&1 &
llm=$!  # a failed step or Ctrl-C stops it too (finished chunks stay)

step "Custom DAC + Rice (Appendix B)"
train "$MODELS/custom-dac" $PY -m baselines.nac train --dataset demo-music --preset cpu --steps 150 --threads 1 \
    "${QUIET[@]}"
run $PY -m baselines.nac --codec custom-dac --weights "$MODELS/custom-dac" --dataset demo-music --split test \
    --out "$OUT" "${QUIET[@]}"
run $PY -m baselines.flac_frames --dataset demo-music --split test --out "$OUT" "${QUIET[@]}"

step "waiting for the in-context LLM"
status=0
wait "$llm" || status=$?
grep -v "WARNING.*mapping refused" "$LLM_LOG" || true  # each refused chunk's warning stays in the log file
current="in-context LLM"
if [ "$status" -eq 1 ]; then
    with_failures+=("$current")
elif [ "$status" -ne 0 ]; then
    echo "the in-context LLM failed (exit $status); see $LLM_LOG" >&2
    exit "$status"
fi

step "report"
$PY analysis/make_report.py --results "$OUT" --out reports/demo
step "done"
if [ "${#with_failures[@]}" -gt 0 ]; then
    printf 'steps with failed files (their rows say why; the report counts them):\n'
    printf -- '- %s\n' "${with_failures[@]}"
fi
