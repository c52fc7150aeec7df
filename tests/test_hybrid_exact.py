"""The hybrid coder decodes bit for bit anywhere: the numba kernels against the same integer maths run by
the plain Python interpreter (``NUMBA_DISABLE_JIT=1``), in fresh processes with other thread counts."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from tests.hybrid_models import SMALL, random_model
from trilobyte.core.datasets import get_dataset
from trilobyte.hybrid import codec, engine
from trilobyte.hybrid.settings import HybridSettings

ROOT = Path(__file__).resolve().parents[1]
DECODE = """
import hashlib, sys, warnings
import numpy as np
warnings.simplefilter("ignore")  # numpy warns where the range coder's uint64 sums wrap, as intended
from trilobyte.hybrid import codec
samples, _ = codec.decode(open(sys.argv[1], "rb").read(), sys.argv[2])
print(hashlib.sha256(np.ascontiguousarray(samples, dtype="<i8").tobytes()).hexdigest())
"""
ENCODE = """
import hashlib, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from trilobyte.hybrid import codec
samples = np.load(sys.argv[1])
print(hashlib.sha256(codec.encode(samples, 44100, int(sys.argv[3]), sys.argv[2]).data).hexdigest())
"""


def run(script: str, *args: str, **env: str) -> str:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=environ,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def short_stereo(samples: int) -> np.ndarray:
    """Real stereo music: the start of a demo clip's middle."""
    clip = next(c for c in get_dataset("demo-music", split="valid").clips() if c.channels == 2 and c.num_samples > 9000)
    return clip.samples[5000 : 5000 + samples].astype(np.int64)


LEGACY = replace(SMALL, nlms=False, stereo_taps=2, rates=(24, 22, 22), lpc_decay=14, wide_from=0,
                 context_features=False, stereo_modes=False, lpc_covariance=False, nlms_robust=False,
                 lpc_cover_rhs=False)


def mid_side(x: np.ndarray) -> np.ndarray:
    """Two channels that share most of their sound: coded as mid and side."""
    other = x[::-1, :1] // 8
    return np.concatenate([x[:, :1] + other, x[:, :1] - other], axis=1)


AUTOCORRELATION = replace(SMALL, lpc_covariance=False, lpc_decay=16, lpc_every=8, nlms_robust=False,
                          lpc_cover_rhs=False)


@pytest.mark.parametrize(("depth", "settings", "stereo"),
                         [(16, SMALL, 0), (24, SMALL, 2), (16, AUTOCORRELATION, 0), (16, LEGACY, 0)],
                         ids=["16-covariance", "24-covariance-mid-side", "16-autocorrelation", "16-first-kernel"])
def test_plain_python_and_numba_decode_the_same_file(tmp_path: Path, depth: int, settings: HybridSettings,
                                                     stereo: int) -> None:
    model_dir = random_model(3, settings).save(tmp_path / "model")
    x = short_stereo(240) if stereo == 0 else mid_side(short_stereo(240))
    x = x << (depth - 16)
    assert engine.stereo_mode(x) == stereo
    path = tmp_path / "clip.trh"
    path.write_bytes(codec.encode(x, 44100, depth, model_dir).data)
    expected = hashlib.sha256(np.ascontiguousarray(x, dtype="<i8").tobytes()).hexdigest()
    jit = run(DECODE, str(path), str(model_dir), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    plain = run(DECODE, str(path), str(model_dir), NUMBA_DISABLE_JIT="1", NUMBA_NUM_THREADS="2")
    assert jit == plain == expected


def test_encoders_in_other_processes_write_identical_files(tmp_path: Path) -> None:
    model_dir = random_model(4).save(tmp_path / "model")
    x = short_stereo(200)
    np.save(tmp_path / "x.npy", x)
    here = hashlib.sha256(codec.encode(x, 44100, 16, model_dir).data).hexdigest()
    jit = run(ENCODE, str(tmp_path / "x.npy"), str(model_dir), "16", NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2")
    plain = run(ENCODE, str(tmp_path / "x.npy"), str(model_dir), "16", NUMBA_DISABLE_JIT="1")
    assert here == jit == plain
