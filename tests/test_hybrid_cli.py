"""``trilobyte-hybrid`` used like flac: both command forms, pipes, -f, every input container, the default
model, refusals and exit statuses."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("numba")
pytest.importorskip("constriction")
pytest.importorskip("safetensors")

from tests.conftest import synth
from trilobyte.core import audio
from trilobyte.core.leakage import CLIPS_FILE
from trilobyte.hybrid import __main__ as cli
from trilobyte.hybrid import codec, defaults
from trilobyte.hybrid.model import HybridModel, fixed_weights, load, quantize
from trilobyte.hybrid.settings import HybridSettings

ROOT = Path(__file__).resolve().parents[1]
# the cascade with a fixed distribution: a real model (one of the hybrid's variants) that needs no training
SMALL = HybridSettings(lpc_order=8, orders=(16, 8, 4), history=8, hidden=(16, 16), frame_samples=1500)
NO_DEFAULT = "no default model is installed; pass --model DIR (train one with python -m trilobyte.hybrid.train)"


def status(argv: list[str]) -> int:
    """``main(argv)``'s exit status, whether returned or raised (argparse exits 2 on a usage error)."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return HybridModel(SMALL, quantize(fixed_weights(SMALL)), {"datasets": [], "valid": []}).save(
        tmp_path_factory.mktemp("hybrid-cli-model"))


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    audio.write_pcm(path, synth(4000, 2, 16, seed=7), 44100, 16)
    return path


@pytest.mark.parametrize("name,depth,channels,rate", [("a.wav", 16, 2, 44100), ("b.aiff", 24, 1, 48000),
                                                      ("c.flac", 8, 1, 8000), ("d.flac", 24, 2, 96000)])
def test_the_flac_form_round_trips_wav_aiff_and_flac(model_dir: Path, tmp_path: Path, name: str, depth: int,
                                                      channels: int, rate: int) -> None:
    x = synth(3500, channels, depth, seed=depth + channels)
    source = tmp_path / name
    audio.write_pcm(source, x, rate, depth, {".wav": "WAV", ".aiff": "AIFF", ".flac": "FLAC"}[source.suffix])
    model = ["--model", str(model_dir)]
    assert cli.main([str(source), *model]) == 0
    trh = source.with_suffix(".trh")
    assert cli.main(["-t", str(trh), *model]) == 0
    assert cli.main(["-d", str(trh), "-o", str(tmp_path / "back.flac"), *model]) == 0
    back, info = audio.read_pcm(tmp_path / "back.flac")
    assert np.array_equal(back, x) and (info.sample_rate, info.bit_depth) == (rate, depth)


def test_an_existing_output_is_refused_without_f(model_dir: Path, wav: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    trh = wav.with_suffix(".trh")
    trh.write_bytes(b"keep me")
    assert cli.main([str(wav), "--model", str(model_dir)]) == 1
    assert f"{trh}: exists (use -f to overwrite)" in caplog.text
    assert trh.read_bytes() == b"keep me"
    assert cli.main([str(wav), "--model", str(model_dir), "-f"]) == 0
    assert cli.main(["-d", str(trh), "--model", str(model_dir)]) == 1  # song.wav is there: refused too
    assert cli.main(["-d", str(trh), "--model", str(model_dir), "-f"]) == 0
    assert np.array_equal(audio.read_pcm(wav)[0], synth(4000, 2, 16, seed=7))


def test_the_command_first_form_keeps_working_and_writes_the_same_file(model_dir: Path, wav: Path,
                                                                      tmp_path: Path) -> None:
    model = ["--model", str(model_dir)]
    assert cli.main(["encode", *model, str(wav), "-o", str(tmp_path / "old.trh")]) == 0
    assert cli.main([str(wav), *model, "-o", str(tmp_path / "new.trh")]) == 0
    assert (tmp_path / "old.trh").read_bytes() == (tmp_path / "new.trh").read_bytes()
    assert cli.main(["test", *model, str(tmp_path / "old.trh")]) == 0
    assert cli.main(["decode", *model, str(tmp_path / "old.trh"), "-o", str(tmp_path / "x.aiff")]) == 0
    assert np.array_equal(audio.read_pcm(tmp_path / "x.aiff")[0], audio.read_pcm(wav)[0])
    assert cli.main(["info", str(tmp_path / "old.trh")]) == 0  # no model needed
    assert cli.main([str(tmp_path / "old.trh"), *model]) == 1  # encoding a .trh file: -d was forgotten


def test_stdin_and_stdout_in_process(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsysbinary: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> None:
    x = synth(3000, 1, 24, seed=4)
    audio.write_pcm(tmp_path / "in.flac", x, 16000, 24, "FLAC")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((tmp_path / "in.flac").read_bytes())))
    assert cli.main(["-", "--model", str(model_dir)]) == 0  # FLAC from a pipe; .trh to standard output
    captured = capsysbinary.readouterr()
    assert captured.out[:4] == codec.container.MAGIC and b"-: wrote" in captured.err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(captured.out)))
    assert cli.main(["-d", "-", "--model", str(model_dir), "-o", str(tmp_path / "out.wav")]) == 0
    assert np.array_equal(audio.read_pcm(tmp_path / "out.wav")[0], x)
    capsysbinary.readouterr()
    for argv in (["-d", "-"], ["-"]):  # neither a .trh file nor audio: one failed file, nothing written
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not a file of either kind" * 9)))
        assert cli.main([*argv, "--model", str(model_dir)]) == 1
        assert capsysbinary.readouterr().out == b""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(captured.out)))
    assert cli.main(["-", "--model", str(model_dir)]) == 1  # a .trh file given to the encoder
    assert caplog.messages == ["standard input: not a Trilobyte file (magic b'not ', expected b'TRLB')",
                               "standard input: not a WAV, AIFF or FLAC stream",
                               "standard input: already coded; decode it with -d (or the decode command)"]


def test_a_pipe_through_a_subprocess(model_dir: Path, wav: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "trilobyte.hybrid", "--model", str(model_dir)]
    encoded = subprocess.run([*command, "-"], input=wav.read_bytes(), capture_output=True, env=env, cwd=ROOT,
                             check=True)
    assert cli.main([str(wav), "--model", str(model_dir)]) == 0
    assert encoded.stdout == wav.with_suffix(".trh").read_bytes()
    decoded = subprocess.run([*command, "-d", "-"], input=encoded.stdout, capture_output=True, env=env, cwd=ROOT,
                             check=True)
    assert decoded.stdout == wav.read_bytes()  # the same WAV bytes back


@pytest.mark.parametrize("subtype,words", [("FLOAT", "FLOAT (32 bit float)"), ("PCM_32", "PCM_32 (Signed 32 bit PCM)")])
def test_float_and_32_bit_wav_are_refused_clearly(model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   subtype: str, words: str) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros((100, 1), dtype=np.float32), 8000, subtype=subtype)
    assert cli.main([str(path), "--model", str(model_dir)]) == 1
    assert f"{path}: sample format {words} is not 8, 16 or 24-bit integer PCM" in caplog.text
    assert "float and 32-bit audio are not supported" in caplog.text
    assert not path.with_suffix(".trh").exists()


@pytest.mark.parametrize("bits,coded", [(12, 16), (20, 24), (6, 8)])
def test_other_flac_depths_are_coded_left_justified(model_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str], bits: int, coded: int) -> None:
    from baselines.flac.codec import FlacSettings, encode

    x = synth(2000, 2, bits)
    path = tmp_path / "odd.flac"
    path.write_bytes(encode(x, 44100, bits, FlacSettings(5)))
    assert audio.read_pcm(path)[1].bit_depth == bits
    assert cli.main([str(path), "--model", str(model_dir)]) == 0
    note = f"({bits}-bit audio coded as {coded}-bit, each sample times {1 << (coded - bits)}"
    assert note in "".join(capsys.readouterr())
    assert cli.main(["-d", str(path.with_suffix(".trh")), "-o", str(tmp_path / "back.wav"), "--model",
                     str(model_dir)]) == 0
    back, info = audio.read_pcm(tmp_path / "back.wav")
    assert info.bit_depth == coded
    assert np.array_equal(back, x.astype(np.int64) << (coded - bits))  # what flac -d writes into a WAV file


def test_one_bad_file_fails_alone(model_dir: Path, wav: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file" * 40)
    assert cli.main([str(bad), str(wav), "--model", str(model_dir)]) == 1
    assert wav.with_suffix(".trh").exists() and not bad.with_suffix(".trh").exists()


@pytest.mark.parametrize("argv", [
    ["a.wav", "b.wav", "-c"], ["-", "-"], ["a.wav", "b.wav", "-o", "x.trh"], ["-t", "a.trh", "-o", "x.wav"],
    ["a.wav", "--jobs", "0"], ["a.wav", "--preset", "fast"], ["-d", "-t", "a.trh"], [],
    ["encode", "a.wav", "b.wav", "-c"],
])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert status(argv) == 2


def test_the_search_preset(model_dir: Path, wav: Path, tmp_path: Path) -> None:
    model = ["--model", str(model_dir)]
    assert cli.main([str(wav), *model, "-o", str(tmp_path / "default.trh")]) == 0
    assert cli.main([str(wav), *model, "-o", str(tmp_path / "search.trh"), "--preset", "search"]) == 0
    default, search = (codec.parse((tmp_path / f"{p}.trh").read_bytes())
                       for p in ("default", "search"))
    assert search.header["encoder"]["preset"] == "search"
    for a, b in zip(default.frames, search.frames, strict=True):  # per frame, never longer than the rule's pick
        assert len(b.payload) <= len(a.payload)
    assert cli.main(["-d", str(tmp_path / "search.trh"), *model, "-o", str(tmp_path / "s.wav")]) == 0
    assert np.array_equal(audio.read_pcm(tmp_path / "s.wav")[0], audio.read_pcm(wav)[0])


def test_the_installed_default_model_is_used_without_model(model_dir: Path, wav: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "DEFAULT_MODEL", model_dir)
    assert cli.main([str(wav)]) == 0
    assert cli.main(["-t", str(wav.with_suffix(".trh"))]) == 0
    assert cli.main(["decode", str(wav.with_suffix(".trh")), "-o", str(wav.with_name("back.wav"))]) == 0
    assert wav.with_name("back.wav").read_bytes() == wav.read_bytes()
    assert defaults.resolve_model(None) == model_dir and defaults.resolve_model("elsewhere") == Path("elsewhere")


@pytest.mark.parametrize("depth,channels,rate", [(8, 1, 8000), (24, 2, 96000)])
def test_the_shipped_default_model_round_trips_without_model(tmp_path: Path, depth: int, channels: int,
                                                             rate: int) -> None:
    """The model installed with the package: it loads, sees the bit depth and sample-unit log scales, and
    codes 8 to 24-bit audio exactly with no --model."""
    model = load(defaults.resolve_model(None))
    assert model.settings.context_features == 2 and model.settings.absolute_scale
    assert (defaults.DEFAULT_MODEL / CLIPS_FILE).is_file()
    wav = tmp_path / "song.wav"
    audio.write_pcm(wav, synth(3000, channels, depth, seed=depth), rate, depth)
    assert cli.main([str(wav)]) == 0
    assert cli.main(["-d", str(wav.with_suffix(".trh")), "-o", str(tmp_path / "back.wav")]) == 0
    assert np.array_equal(audio.read_pcm(tmp_path / "back.wav")[0], audio.read_pcm(wav)[0])


def test_without_a_default_model_the_cli_says_so(wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(defaults, "DEFAULT_MODEL", tmp_path / "absent")
    with caplog.at_level(logging.ERROR):
        assert cli.main([str(wav)]) == 2
        assert cli.main(["-d", str(wav.with_suffix(".trh"))]) == 2
    assert caplog.messages == [NO_DEFAULT, NO_DEFAULT]
    assert not wav.with_suffix(".trh").exists()


def test_a_model_folder_that_does_not_load_fails_the_run(wav: Path, tmp_path: Path) -> None:
    assert cli.main([str(wav), "--model", str(tmp_path / "nothing-here")]) == 1
