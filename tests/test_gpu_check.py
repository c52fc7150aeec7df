"""The GPU check script run the CPU way (``--device cpu --preset tiny``), so that it never rots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import gpu_check


def rows_by_check(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["check"]: row for row in found["rows"]}


@pytest.mark.slow
def test_cpu_run_prints_every_row_with_real_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = gpu_check.main(["--device", "cpu", "--preset", "tiny", "--json", str(tmp_path / "rows.json")])
    out = capsys.readouterr().out
    found = json.loads((tmp_path / "rows.json").read_text())
    assert status == 0, out
    assert out.startswith("device: cpu: ")
    assert "torch 2." in out and "CUDA " in out and "random-init weights" in out
    rows = rows_by_check(found)
    for depth in (8, 16, 24):
        row = rows[f"train {depth}-bit fp32"]
        assert row["status"] == "ok"
        assert row["values"]["steps_per_s"] > 0 and row["values"]["tokens_per_s"] > 0
        assert row["values"]["batch"] == 8  # the tiny preset's batch fits
        assert "bf16 autocast skipped on cpu" in row["notes"] and "unknown peak" in row["result"]
    assert rows["train 16-bit DDP"]["status"] == "skipped"
    assert rows["train 16-bit DDP"]["result"].startswith("skipped on cpu")
    assert rows["estimate 16-bit ideal rate"]["values"]["tokens_per_s"] > 0
    assert rows["codec encode"]["values"]["x_realtime"] > 0
    decode = rows["codec decode"]
    assert decode["status"] == "ok" and decode["values"]["exact"] == 1.0
    assert "round trip bit-exact" in decode["result"]
    sample = rows["sample-level 16-bit train"]
    assert sample["values"]["step_s"] > 0 and "65,539-token vocabulary" in sample["notes"]
    llm = rows["in-context LLM ideal"]
    assert llm["values"]["tokens_per_s"] > 0 and "not SmolLM2" in llm["notes"]
    hours = [rows[f"in-context LLM {d}-bit protocol"]["values"]["hours"] for d in (8, 16, 24)]
    assert hours[0] > 0 and hours[1] == pytest.approx(2 * hours[0]) and hours[2] == pytest.approx(3 * hours[0])
    assert "sc09" in rows["in-context LLM 8-bit protocol"]["notes"]
    hybrid = rows["hybrid coder"]
    assert hybrid["status"] == "ok" and "round trip bit-exact" in hybrid["result"]  # timed on the CPU
    assert hybrid["values"]["decode_x_realtime"] > 0 and hybrid["values"]["encode_x_realtime"] > 0
    for row in found["rows"]:  # the printed table holds what the JSON holds
        assert f"{row['check']}  " in out and row["result"] in out


@pytest.mark.gpu
def test_cuda_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CUDA paths at the tiny preset: bf16 training with its share of the peak and peak memory, the
    largest estimation batch, the codec's exact round trip on the GPU, the sample-level model."""
    status = gpu_check.main(["--device", "cuda", "--preset", "tiny", "--only", "train,estimate,codec,sample",
                             "--json", str(tmp_path / "rows.json")])
    out = capsys.readouterr().out
    rows = rows_by_check(json.loads((tmp_path / "rows.json").read_text()))
    assert status == 0, out
    assert "GPU(s) visible" in out.splitlines()[0] and "CUDA none" not in out
    for depth in (8, 16, 24):
        row = rows[f"train {depth}-bit bf16"]
        assert row["status"] == "ok" and row["values"]["tokens_per_s"] > 0, row
        assert "GiB" in row["result"] and ("of bf16 peak" in row["result"] or "unknown peak" in row["result"])
    assert rows["estimate 16-bit ideal rate"]["values"]["tokens_per_s"] > 0
    decode = rows["codec decode"]
    assert decode["status"] == "ok" and decode["values"]["exact"] == 1.0
    assert rows["sample-level 16-bit train"]["values"]["step_s"] > 0


def test_gpu_tests_skip_without_cuda() -> None:
    """Where no CUDA device is, the gpu-marked tests are collected and skipped, saying why."""
    from tests.conftest import cuda_missing

    if cuda_missing() is None:
        pytest.skip("a CUDA device is here: the gpu tests run")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-m", "gpu", "-p", "no:cacheprovider",
                           "tests/test_gpu_check.py"], cwd=gpu_check.ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout and "SKIPPED [1] tests/test_gpu_check.py" in done.stdout, done.stdout
    assert cuda_missing() in done.stdout


def test_a_failing_row_is_reported_and_the_status_is_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-model"
    status = gpu_check.main(
        ["--device", "cpu", "--preset", "tiny", "--only", "llm,hybrid", "--llm-model", str(missing)]
    )
    out = capsys.readouterr().out
    assert status == 1
    failed = next(line for line in out.splitlines() if line.startswith("llm "))
    assert "FAILED: ModelNotFoundError" in failed
    assert "hybrid coder" in out  # the rows after it still ran


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as bad_row:
        gpu_check.main(["--device", "cpu", "--only", "train,nonsense"])
    assert bad_row.value.code == 2
    with pytest.raises(SystemExit) as bad_device:
        gpu_check.main(["--device", "tpu"])
    assert bad_device.value.code == 2


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989),
        ("NVIDIA H100 PCIe", 756),
        ("NVIDIA H200", 989),
        ("NVIDIA GH200 480GB", 989),
        ("NVIDIA A100-SXM4-80GB", 312),
        ("NVIDIA L40S", 362),
        ("NVIDIA L40", 181),
        ("NVIDIA L4", 121),
    ],
)
def test_bf16_peak_by_device_name(name: str, tflops: float) -> None:
    assert gpu_check.bf16_peak_flops(name) == tflops * 1e12


def test_unknown_device_has_unknown_peak() -> None:
    assert gpu_check.bf16_peak_flops("Tesla V100-SXM2-16GB") is None
    assert gpu_check.flops_share(1000, 1e6, None) == "unknown peak"
    assert gpu_check.flops_share(10**8, 10**6, 1e15) == "60.0% of bf16 peak"
    assert gpu_check.flops_share(10**8, 10**6, 1e15, devices=2) == "30.0% of bf16 peak"
