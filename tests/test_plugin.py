"""The worked plug-in (examples/plugin/): its coder, and the package installed into a fresh environment.

The install is a real one, offline: a temporary virtual environment that sees the toolkit's environment
through a ``.pth`` file (a venv made from another venv's python would see the base interpreter's
packages, not the toolkit's), and ``pip install --no-deps --no-build-isolation --no-index`` of a copy
of examples/plugin/ built by the setuptools already installed. Nothing in the toolkit names the
plug-in: the method arrives through its entry point only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from trilobyte.core.methods import methods
from trilobyte.core.protocol import LosslessError

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugin"
LABEL = "Shorten (fixed poly + Rice)"


@pytest.fixture
def shorten(monkeypatch: pytest.MonkeyPatch):
    """The plug-in's modules imported from its source folder (for the coder's own tests)."""
    monkeypatch.syspath_prepend(str(PLUGIN / "src"))
    from trilobyte_shorten import coder, stream

    return coder, stream


def test_residuals_are_the_fixed_polynomial_differences(shorten) -> None:
    _, stream = shorten
    x = np.array([1, 3, 6, 10, 15])
    assert stream.residuals(x, 0).tolist() == [1, 3, 6, 10, 15]
    assert stream.residuals(x, 1).tolist() == [1, 2, 3, 4, 5]
    assert stream.residuals(x, 2).tolist() == [1, 1, 1, 1, 1]
    assert stream.residuals(x, 3).tolist() == [1, 0, 0, 0, 0]


def test_each_block_takes_the_order_with_the_smallest_residual_sum(shorten) -> None:
    _, stream = shorten
    n = np.arange(2000)
    silence, ramp, parabola = np.zeros(2000, dtype=np.int64), 7 * n, n**2
    assert [stream.choose_orders(x, 1000, 3)[0].tolist() for x in (silence, ramp, parabola)] == [[0, 0], [2, 2], [3, 3]]
    assert [stream.choose_orders(x, 1000, 1)[0].tolist() for x in (silence, ramp, parabola)] == [[0, 0], [1, 1], [1, 1]]


@pytest.mark.parametrize(("shape", "depth"), [((0, 1), 16), ((3, 2), 16), ((9000, 2), 16), ((4097, 1), 24),
                                              ((5000, 1), 32), ((777, 3), 8)])
def test_stream_round_trips_bit_exactly(shorten, shape: tuple[int, int], depth: int) -> None:
    _, stream = shorten
    rng = np.random.default_rng(depth)
    top = 2 ** (depth - 1)
    walk = np.cumsum(rng.integers(-top // 64 - 1, top // 64 + 2, shape), axis=0)
    samples = np.clip(walk, -top, top - 1).astype(np.int32)
    if shape[0] > 2:
        samples[0], samples[1] = -top, top - 1  # full scale: 32-bit third differences exceed 32 bits here
    encoded = stream.encode(samples, 44100, depth, block_size=1024)
    decoded, rate, got_depth = stream.decode(encoded.data)
    assert (rate, got_depth) == (44100, depth)
    assert decoded.shape == samples.shape
    np.testing.assert_array_equal(decoded, samples)
    assert sum(encoded.order_counts) == -(-shape[0] // 1024) * shape[1]


def test_stream_refuses_damage(shorten) -> None:
    _, stream = shorten
    samples = np.arange(2000, dtype=np.int32)[:, None] % 50
    data = stream.encode(samples, 8000, 16).data
    with pytest.raises(stream.StreamError, match="after its last block"):
        stream.decode(data + b"\x01")
    with pytest.raises(stream.StreamError, match="magic"):
        stream.decode(b"XXXX" + data[4:])
    with pytest.raises(ValueError):
        stream.decode(data[:-4])


def test_coder_counts_the_whole_stream_and_refuses_a_wrong_decode(shorten, monkeypatch: pytest.MonkeyPatch) -> None:
    from trilobyte.core.datasets import get_dataset

    coder_module, stream = shorten
    dataset = get_dataset("demo-speech", split="test", limit=1)
    clip = dataset.load(dataset.refs[0])
    coder = coder_module.make_shorten()
    row = coder.code_file(clip)
    data = stream.encode(clip.samples, clip.sample_rate, clip.bit_depth).data
    assert row.compressed_bits == 8 * len(data) and row.container_bits == 0
    assert 1.0 < row.rate < 4.0
    good = stream.decode

    def off_by_one(data: bytes) -> tuple[np.ndarray, int, int]:
        samples, rate, depth = good(data)
        samples[len(samples) // 2, 0] += 1
        return samples, rate, depth

    monkeypatch.setattr(stream, "decode", off_by_one)
    with pytest.raises(LosslessError, match="not bit-exact"):
        coder.code_file(clip)


# ---------------------------------------------------------------------------------- installed by pip


def _run(python: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([str(python), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh virtual environment with examples/plugin pip-installed into it (offline), and its variables."""
    tmp = tmp_path_factory.mktemp("plugin-env")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    # the toolkit's environment (numpy, pandas, pip, setuptools, the toolkit itself) after the venv's own
    shared = sysconfig.get_paths()["purelib"]
    Path(site, "toolkit_environment.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    source = tmp / "plugin-source"  # a copy, so the build leaves nothing in the repository
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_NO_INDEX": "1"}
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-cache-dir",
         str(source), env=env)
    return python, env


def test_plugin_is_not_part_of_the_toolkit() -> None:
    """Without the package installed, no method is named shorten: the entry point is what registers it."""
    assert "shorten" not in methods()


def test_installed_plugin_is_listed(plugin_env: tuple[Path, dict[str, str]]) -> None:
    python, env = plugin_env
    out = _run(python, "-m", "baselines.flac_sweep", "--list", env=env).stdout
    (line,) = [row for row in out.splitlines() if row.startswith("shorten ")]
    assert "classical" in line and LABEL in line and "ready" in line
    assert out.index("flac ") < out.index("shorten ")  # ordered after the built-in methods


SCRIPT = """
import json, sys
from trilobyte.core.datasets import get_dataset
from trilobyte.core.methods import find, get_method
import trilobyte_shorten
from trilobyte_shorten.coder import make_shorten

dataset = get_dataset("demo-speech", split="test", limit=3)
result = get_method("shorten").estimate_rate(dataset)
direct = [make_shorten().code_file(dataset.load(ref)).compressed_bits for ref in dataset.refs]
print(json.dumps({"module": trilobyte_shorten.__file__, "source": find("shorten").source, "mode": result.mode,
                  "bits": [f.compressed_bits for f in result.files], "failed": len(result.failures),
                  "direct": direct, "report": result.report}))
"""


def test_installed_plugin_runs_coded_and_reports_its_column(plugin_env: tuple[Path, dict[str, str]],
                                                            tmp_path: Path) -> None:
    python, env = plugin_env
    got = json.loads(_run(python, "-c", SCRIPT, env=env).stdout.splitlines()[-1])
    assert "site-packages" in got["module"] and str(PLUGIN) not in got["module"]  # the installed copy
    assert got["source"] == "entry point shorten = trilobyte_shorten:METHOD"
    assert got["mode"] == "coded" and got["failed"] == 0
    assert len(got["bits"]) == 3 and got["bits"] == got["direct"]
    assert got["report"]["column"] == LABEL and got["report"]["family"] == "classical"
    assert got["report"]["label"] == "Shorten -b 4096 (orders 0-3)"

    results, report = tmp_path / "results", tmp_path / "report"
    _run(python, "-m", "trilobyte_shorten", "--dataset", "demo-speech", "--split", "test", "--limit", "3",
         "--out", str(results), "--no-progress", env=env)
    (path,) = results.rglob("*.json")
    written = json.loads(path.read_text())
    assert written["method"] == "shorten" and written["report"]["column"] == LABEL
    assert [f["compressed_bits"] for f in written["files"]] == got["bits"]

    _run(python, str(ROOT / "analysis" / "make_report.py"), "--results", str(results), "--out", str(report), env=env)
    text = (report / "REPORT.md").read_text()
    headers = [line for line in text.splitlines() if line.startswith("|") and "| Dataset |" in line]
    # the plug-in's own column, under its declared label (the report reads it from the result), in the table of
    # the codecs beside the paper's columns
    assert len(headers) == 2 and LABEL not in headers[0] and f"| {LABEL} |" in headers[1] + " ", headers
    rate = sum(f["raw_bits"] for f in written["files"]) / sum(got["bits"])
    assert f"{rate:.2f}" in text
