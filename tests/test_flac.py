"""The FLAC sweep: libFLAC in process, exact round trips, the reference CLI's sizes, failures and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from conftest import synth

from baselines.flac import codec as flac_codec
from baselines.flac.codec import SUBFRAME_TYPES, FlacSettings
from baselines.flac.coder import FlacCoder
from baselines.flac.options import parse_levels
from baselines.flac.sweep import build_settings, main, sweep_table
from trilobyte.core import audio
from trilobyte.core.datasets import AudioClip, get_dataset
from trilobyte.core.results import ResultStore

ROOT = Path(__file__).resolve().parents[1]
ALL_OFF = frozenset(SUBFRAME_TYPES)


def sweep_settings(levels: list[int]) -> list[FlacSettings]:
    """The configurations the sweep runs by default for these levels (stock and all three disabled)."""
    return build_settings(Namespace(levels=levels, disable_subframes=None, exhaustive=False, max_lpc_order=None,
                                    blocksize=None))


def cli_version() -> str:
    done = subprocess.run(["flac", "--version"], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.split()[-1]


def clip_from(samples: np.ndarray, bit_depth: int, rate: int = 44100) -> AudioClip:
    return AudioClip("x", Path("x"), samples, rate, bit_depth, "test", "g")


@pytest.mark.parametrize("bit_depth", [4, 8, 12, 16, 20, 24, 32])
@pytest.mark.parametrize("channels", [1, 2, 8])
def test_coder_round_trips_every_depth_and_channel_count(bit_depth: int, channels: int) -> None:
    clip = clip_from(synth(9000, channels, bit_depth), bit_depth)
    row = FlacCoder(FlacSettings(5)).code_file(clip)
    assert row.ok and row.raw_bits == 9000 * channels * bit_depth
    data = flac_codec.encode(clip.samples, 44100, bit_depth, FlacSettings(5))
    decoded, rate, depth = flac_codec.decode(data)
    assert (rate, depth) == (44100, bit_depth)
    np.testing.assert_array_equal(decoded, clip.samples)
    layout = flac_codec.parse_layout(data)
    assert row.compressed_bits == layout.payload_bytes * 8 and row.container_bits == layout.container_bytes * 8
    assert layout.payload_bytes + layout.container_bytes == len(data)


REFERENCE_CASES = [
    ("demo-music", 5),
    ("demo-speech", 3),
    ("demo-speech48", 0),
    ("demo-music-mulaw8", 7),
    ("demo-24bit", 0),
    ("demo-24bit", 3),
]


@pytest.mark.skipif(shutil.which("flac") is None, reason="the Debian package flac is not installed")
@pytest.mark.parametrize(("dataset", "index"), REFERENCE_CASES)
@pytest.mark.parametrize(
    "settings",
    [FlacSettings(8), FlacSettings(5), FlacSettings(8, ALL_OFF), FlacSettings(3, ALL_OFF),
     FlacSettings(5, exhaustive_model_search=True, max_lpc_order=16, blocksize=8192)],
    ids=lambda s: s.name,
)
def test_payload_matches_the_flac_command_line(tmp_path: Path, dataset: str, index: int,
                                               settings: FlacSettings) -> None:
    ds = get_dataset(dataset)
    clip = ds.load(ds.refs[index])
    wav, out = tmp_path / "in.wav", tmp_path / "out.flac"
    audio.write_pcm(wav, clip.samples, clip.sample_rate, clip.bit_depth)
    subprocess.run(["flac", "-s", "-f", "-o", str(out), *settings.cli_args(clip.sample_rate), str(wav)], check=True,
                   timeout=60)
    reference = out.read_bytes()
    ref_layout = flac_codec.parse_layout(reference)
    assert ref_layout.container_bytes > 8192  # the CLI's padding, seek table and tags, taken off below
    ours = flac_codec.encode(clip.samples, clip.sample_rate, clip.bit_depth, settings)
    our_layout = flac_codec.parse_layout(ours)
    versions = f"flac CLI {cli_version()}, pyflac's libFLAC {flac_codec.libflac_version()}"
    if cli_version() == flac_codec.libflac_version():
        assert ours[our_layout.frames_offset :] == reference[ref_layout.frames_offset :], versions
        assert our_layout.payload_bytes == ref_layout.payload_bytes, versions
    else:
        assert abs(our_layout.payload_bytes / ref_layout.payload_bytes - 1) <= 0.002, versions
    # STREAMINFO (sizes, sample count, MD5) agrees too
    assert ours[8:42] == reference[8:42], versions


def test_disabling_subframes_costs_bits_on_silence() -> None:
    samples = synth(44100, 1, 16)
    samples[: 44100 // 2] = 0  # half silence: stock FLAC codes it as constant subframes
    stock = flac_codec.parse_layout(flac_codec.encode(samples, 44100, 16, FlacSettings(8))).payload_bytes
    off = flac_codec.encode(samples, 44100, 16, FlacSettings(8, ALL_OFF))
    decoded, _, _ = flac_codec.decode(off)
    np.testing.assert_array_equal(decoded, samples)
    assert flac_codec.parse_layout(off).payload_bytes > stock + 100


def test_settings_validation_and_names() -> None:
    assert FlacSettings(8).name == "level8"
    assert FlacSettings(3, ALL_OFF).name == "level3_no-constant-fixed-verbatim"
    assert FlacSettings(5, exhaustive_model_search=True, max_lpc_order=32, blocksize=4096).name == "level5_e_l32_b4096"
    assert FlacSettings(5, max_lpc_order=32).needs_lax(44100) and not FlacSettings(5, max_lpc_order=32).needs_lax(96000)
    assert "--lax" in FlacSettings(5, max_lpc_order=32).cli_args(44100)
    with pytest.raises(ValueError, match=r"0\.\.8"):
        FlacSettings(9)
    with pytest.raises(ValueError, match="unknown subframe"):
        FlacSettings(5, frozenset({"lpc"}))
    assert parse_levels("0,3,5-8") == [0, 3, 5, 6, 7, 8]


def test_parse_layout_rejects_garbage() -> None:
    with pytest.raises(flac_codec.FlacError, match="not a FLAC stream"):
        flac_codec.parse_layout(b"RIFF....")
    with pytest.raises(flac_codec.FlacError, match="truncated"):
        flac_codec.parse_layout(b"fLaC\x00\x00\x00\x22" + b"\0" * 10)


def test_sweep_records_corrupt_files_and_finishes_the_rest(audio_folder: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    (audio_folder / "speaker1" / "corrupt.flac").write_bytes(b"fLaC" + os.urandom(3000))
    truncated = audio_folder / "speaker2" / "truncated.wav"
    audio.write_pcm(truncated, synth(8000, 1, 16), 16000, 16)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    out = tmp_path / "results"
    argv = ["--dataset", str(audio_folder), "--levels", "5", "--disable-subframes", "none", "--out", str(out),
            "--no-progress", "--jobs", "2"]
    assert main(argv) == 1  # the run finishes and writes its results, but says files failed
    result = ResultStore(out).find("corpus", "flac", "level5")
    assert result is not None and result.mode == "coded"
    failed = {f.id: f.error for f in result.failures}
    assert set(failed) == {"speaker1/corrupt.flac", "speaker2/truncated.wav"}
    assert "truncated" in failed["speaker2/truncated.wav"]
    assert len(result.ok_files) == 8
    assert "could not be coded" in capsys.readouterr().out


def test_sweep_table_and_defaults() -> None:
    settings = sweep_settings([0, 8])
    assert [s.name for s in settings] == [
        "level0", "level8", "level0_no-constant-fixed-verbatim", "level8_no-constant-fixed-verbatim"]
    ds = get_dataset("demo-speech48", limit=2)
    results = [FlacCoder(s).estimate_rate(ds) for s in settings]
    table = sweep_table(results)
    assert "stock FLAC" in table and "disabled subframes: constant,fixed,verbatim" in table
    assert f"{results[1].rate:.3f}" in table
    assert results[1].rate > results[0].rate  # level 8 beats level 0 on real speech


def _partial_rows(out: Path) -> int:
    return sum(max(0, len(p.read_text().splitlines()) - 1) for p in out.rglob("*.partial.jsonl"))


@pytest.mark.parametrize(
    ("stop", "jobs"),
    [(signal.SIGKILL, 1), (signal.SIGINT, 1), (signal.SIGINT, 2)],
    ids=["killed", "ctrl-c", "ctrl-c-2-jobs"],
)
def test_interrupted_sweep_resumes_without_redoing_files(tmp_path: Path, stop: signal.Signals, jobs: int) -> None:
    folder = tmp_path / "many"
    for i in range(40):
        (folder / f"g{i % 8}").mkdir(parents=True, exist_ok=True)
        audio.write_pcm(folder / f"g{i % 8}" / f"c{i:02d}.wav", synth(44100, 2, 16, seed=i), 44100, 16)
    out = tmp_path / "results"
    argv = ["--dataset", str(folder), "--levels", "0-8", "--out", str(out), "--no-progress", "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "baselines.flac_sweep", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while _partial_rows(out) < 18 * 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(stop)
    output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode != 0, output
    if stop == signal.SIGINT:
        assert proc.returncode == 130 and "resume" in output
    assert not list(out.rglob("level*.json")), "no result may be final after an interrupted run"

    before = {}
    for partial in out.rglob("*.partial.jsonl"):
        for line in partial.read_text().splitlines()[1:]:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by the kill
            before[(partial.name, row["id"])] = row["seconds"]
    assert len(before) >= 18 * 5

    assert main(argv) == 0
    store = ResultStore(out)
    for settings in sweep_settings(list(range(9))):
        result = store.find("many", "flac", settings.name)
        assert result is not None and len(result.ok_files) == 40
        for row in result.files:
            key = (f"{settings.name}.partial.jsonl", row.id)
            if key in before:  # finished before the interruption: kept, not recomputed
                assert row.seconds == before[key]
    assert not list(out.rglob("*.partial.jsonl"))


def test_rerun_skips_and_overwrite_recomputes(tmp_path: Path) -> None:
    argv = ["--dataset", "demo-speech48", "--limit", "2", "--levels", "8", "--disable-subframes", "none",
            "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    path = next(tmp_path.rglob("level8.json"))
    first = json.loads(path.read_text())
    assert main(argv) == 0
    assert json.loads(path.read_text())["created"] == first["created"]
    time.sleep(1.1)
    assert main([*argv, "--overwrite"]) == 0
    again = json.loads(path.read_text())
    assert again["created"] != first["created"]
    assert again["summary"]["compressed_bits"] == first["summary"]["compressed_bits"]
    assert first["environment"]["packages"]["pyflac"] == "3.0.0"
    assert first["extra"]["libflac_version"] == flac_codec.libflac_version()


def test_unwritable_results_folder_is_a_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the results folder should go")
    argv = ["--dataset", "demo-speech48", "--limit", "1", "--levels", "0", "--disable-subframes", "none",
            "--out", str(blocker / "results"), "--no-progress"]
    assert main(argv) == 1
    assert "cannot write results" in caplog.text and blocker.read_text().startswith("a file")
