"""Every CLI's exit status: 0 when every file was coded, 1 when any file failed, 2 for a usage error."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import synth
from malformed import TRILOBYTE_FLAGS, tiny_trilobyte_model

from trilobyte.core import audio

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

QUIET = ["--no-progress", "--jobs", "1"]


def status(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """``main(argv)``'s exit status, whether returned or raised (argparse exits 2 on a usage error)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``good``: two short 16-bit files; ``bad``: the same beside a file of random bytes."""
    base = tmp_path_factory.mktemp("exit")
    good, bad = base / "good", base / "bad"
    good.mkdir()
    audio.write_pcm(good / "a.wav", synth(700, 1, 16, seed=1), 8000, 16)
    audio.write_pcm(good / "b.wav", synth(700, 1, 16, seed=2), 8000, 16)
    shutil.copytree(good, bad)
    (bad / "corrupt.wav").write_bytes(b"RIFF not really a wave file" * 40)
    return {"good": good, "bad": bad}


def three_ways(main: Callable[[list[str]], int], folders: dict[str, Path], tmp_path: Path, *flags: str) -> None:
    for name, expected in (("good", 0), ("bad", 1)):
        argv = [*flags, "--dataset", str(folders[name]), "--out", str(tmp_path / name), *QUIET]
        assert status(main, argv) == expected, name
    assert status(main, [*flags, "--dataset", str(folders["good"]), "--no-such-flag"]) == 2


def test_flac_sweep(folders, tmp_path):
    from baselines.flac.sweep import main

    three_ways(main, folders, tmp_path, "--levels", "5", "--disable-subframes", "none")


def test_flac_frames(folders, tmp_path):
    from baselines.flac.frames_cli import main

    three_ways(main, folders, tmp_path)


def test_classical(folders, tmp_path):
    from baselines.classical.cli import main

    three_ways(main, folders, tmp_path, "--codec", "gzip", "--no-with-flac")


def test_nac(folders, tmp_path):
    from baselines.nac.cli import main
    from baselines.nac.models import save_random_model

    weights = save_random_model("dac", "tiny", tmp_path / "dac", seed=1)
    three_ways(main, folders, tmp_path, "--codec", "dac", "--weights", str(weights), "--resample", "none",
               "--no-with-flac")


def test_in_context_llm(folders, tmp_path):
    """The bad folder's corrupt file is not in the chunk draw yet, so its failing file is one too short for a
    chunk it is told to hold: a context overflow, refused as a failed row."""
    from baselines.llm_incontext.cli import main
    from tests.llm_tiny import llama_tokenizer, save_tiny_llama

    model = save_tiny_llama(tmp_path / "llama", llama_tokenizer(), context=64)
    flags = ["--model", str(model), "--chunks", "2", "--mapping", "bytes"]
    argv = [*flags, "--chunk-samples", "16", "--dataset", str(folders["good"]), "--out", str(tmp_path / "g"), *QUIET]
    assert status(main, argv) == 0
    argv = [*flags, "--chunk-samples", "64", "--dataset", str(folders["good"]), "--out", str(tmp_path / "b"), *QUIET]
    assert status(main, argv) == 1
    assert status(main, [*flags, "--dataset", str(folders["good"]), "--mapping", "utf8"]) == 2


def test_trilobyte_estimate_and_codec(folders, tmp_path):
    from trilobyte.gpt2 import __main__ as codec_cli
    from trilobyte.gpt2 import estimate

    model = tiny_trilobyte_model(tmp_path / "model")
    for coded in ([], ["--coded", "--frame-samples", "400"]):
        three_ways(estimate.main, folders, tmp_path / f"est{len(coded)}", "--model", str(model), "--split", "all",
                   *TRILOBYTE_FLAGS, *coded)
    good, corrupt = folders["good"] / "a.wav", folders["bad"] / "corrupt.wav"
    run = ["--model", str(model)]
    out = tmp_path / "codec"
    out.mkdir()
    assert status(codec_cli.main, ["encode", *run, str(good), "-o", str(out / "a.trb")]) == 0
    assert status(codec_cli.main, ["encode", *run, str(corrupt), "-o", str(out / "c.trb")]) == 1
    assert status(codec_cli.main, ["encode", *run, "--no-such-flag", str(good)]) == 2
    (out / "cut.trb").write_bytes((out / "a.trb").read_bytes()[:-20])
    for command in ("decode", "test"):
        target = ["-o", str(out / f"a-{command}.wav")] if command == "decode" else []
        assert status(codec_cli.main, [command, *run, str(out / "a.trb"), *target]) == 0, command
        assert status(codec_cli.main, [command, *run, str(out / "cut.trb")]) == 1, command
        assert status(codec_cli.main, [command, *run, "--no-such-flag", str(out / "a.trb")]) == 2, command
    assert status(codec_cli.main, ["info", str(out / "a.trb")]) == 0


def test_trilobyte_train(tmp_path):
    """Training reads every file it trains on: one it cannot read fails the run (exit 1), nothing is written."""
    from trilobyte.gpt2 import train

    good = tmp_path / "voices"
    for i in range(6):
        (good / f"speaker{i}").mkdir(parents=True)
        audio.write_pcm(good / f"speaker{i}" / "take.wav", synth(700, 1, 16, seed=i), 8000, 16)
    bad = tmp_path / "voices-bad"
    shutil.copytree(good, bad)
    for i in range(6):
        (bad / f"speaker{i}" / "corrupt.wav").write_bytes(b"RIFF not really a wave file" * 40)
    flags = ["--preset", "tiny", "--steps", "1", "--val-windows", "1", "--batch-size", "2", "--context", "64",
             "--no-progress", "--threads", "1"]
    assert status(train.main, [*flags, "--dataset", str(good), "--out", str(tmp_path / "g")]) == 0
    assert status(train.main, [*flags, "--dataset", str(good), "--no-such-flag"]) == 2
    assert status(train.main, [*flags, "--dataset", str(bad), "--out", str(tmp_path / "b")]) == 1
    assert not (tmp_path / "b" / "model.safetensors").exists()
