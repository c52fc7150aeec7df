"""Smoke test of the benchmark scripts: they run end to end and print their tables (no timing asserts)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks import flac_sweep_speed


def test_flac_sweep_speed_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    status = flac_sweep_speed.main(["--dataset", "demo-speech", "--limit", "2", "--levels", "5",
                                    "--repeat", "1", "--jobs-list", "1,2"])
    out = capsys.readouterr().out
    assert status == 0
    assert "=== demo-speech-first2: 2 files," in out
    for header in ("Encode only", "Round trip, bit-exact", "Sizes (rate", "Scaling with --jobs"):
        assert header in out
    assert out.count("FLAC level  ") == 3
    assert "in-proc xRT" in out and "CLI xRT" in out and "in-proc/CLI" in out
    # level 5, stock and with the paper's subframe types disabled, in each of the three per-file tables
    assert out.count("-5 stock") == 3
    assert out.count("-5 no const/fixed/verbatim") == 3
    scaling = out.split("Scaling with --jobs")[1].splitlines()
    assert scaling[2].split() == ["jobs", "wall", "s", "xRT", "codings/s", "speed-up"]
    assert [row.split()[0] for row in scaling[4:6]] == ["1", "2"]
    assert scaling[4].split()[-1] == "1.00x"
    assert scaling[6].startswith("(load average")


def test_flac_sweep_speed_rejects_bad_jobs_list() -> None:
    with pytest.raises(SystemExit) as exit_info:
        flac_sweep_speed.main(["--jobs-list", "0,2"])
    assert exit_info.value.code == 2


def test_hybrid_headroom_oracles_and_refusal() -> None:
    from benchmarks import hybrid_headroom

    with pytest.raises(SystemExit) as stop:
        hybrid_headroom.main(["--split", "test"])  # oracles are for studying, never on the evaluation split
    assert stop.value.code == 2
    rng = np.random.default_rng(0)
    # an order-2 resonance driven by white noise: the block oracle of order 2 knows its exact predictor
    noise = rng.normal(0, 200, 20000)
    x = np.zeros(20000)
    for n in range(2, 20000):
        x[n] = 1.6 * x[n - 1] - 0.8 * x[n - 2] + noise[n]
    samples = np.round(x).astype(np.int64)[:, None]
    costs = hybrid_headroom.clip_costs(samples, 16, 44100, [2])
    per_sample = {k: v / samples.size for k, v in costs.items()}
    # white noise of std 200 under a logistic costs about log2(200) + 2.05 bits a sample
    assert 9.3 < per_sample["block-oracle LPC 2"] < 9.8
    assert per_sample["cascade"] < per_sample["block-oracle LPC 2"] * 1.03
    assert abs(per_sample["two-sided scale"] - per_sample["cascade"]) < 0.1
    assert abs(per_sample["clip histograms"] - per_sample["cascade"]) < 0.1
    assert abs(per_sample["long-term oracle"] - per_sample["cascade"]) < 0.1  # nothing repeats
    # white noise twice, 5,000 samples apart: the cascade's residual repeats but for its stages' own
    # wandering (a difference of std ~27 against ~207), so the oracle saves about 3 bits a sample of the copy
    noise = np.round(rng.normal(0, 200, 5000)).astype(np.int64)[:, None]
    costs = hybrid_headroom.clip_costs(np.concatenate([noise, noise]), 16, 44100, [])
    saved = (costs["cascade"] - costs["long-term oracle"]) / 5000
    assert 2.0 < saved < 4.0


def small_hybrid_model(tmp_path: Path) -> Path:
    """A small hybrid model with fixed weights, saved under ``tmp_path``."""
    from trilobyte.hybrid.model import HybridModel, fixed_weights, quantize
    from trilobyte.hybrid.settings import HybridSettings

    small = HybridSettings(lpc_order=8, orders=(16, 8, 4), history=8, hidden=(16, 16), frame_samples=1500)
    return HybridModel(small, quantize(fixed_weights(small)), {}).save(tmp_path / "model")


def test_hybrid_vs_flac_counts_each_file_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("numba")
    from benchmarks import hybrid_vs_flac
    from tests.conftest import synth
    from trilobyte.core import audio
    from trilobyte.core.flacblocks import encode_blocks
    from trilobyte.hybrid import codec

    model = small_hybrid_model(tmp_path)
    folder = tmp_path / "corpus"
    folder.mkdir()
    tone = synth(3000, 2, 16)
    audio.write_pcm(folder / "tone.wav", tone, 16000, 16)
    # digital silence: FLAC's constant subframes cost a few bytes a block; the hybrid's own frame layout
    # (wasted-bits byte, word count, block bitmap) costs a few bytes more on so short a file
    audio.write_pcm(folder / "silence.wav", np.zeros((5000, 1), dtype=np.int32), 8000, 16)
    status = hybrid_vs_flac.main(["--model", str(model), "--dataset", str(folder), "--split", "all",
                                  "--verify", "--worst", "1"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    hybrid = {name: codec.encode(x, rate, 16, model).container.payload_bytes
              for name, x, rate in (("tone", tone, 16000), ("silence", np.zeros((5000, 1), np.int64), 8000))}
    flac = {name: sum(map(len, encode_blocks(x, rate, 16))) + 42
            for name, x, rate in (("tone", tone, 16000), ("silence", np.zeros((5000, 1), np.int64), 8000))}
    assert flac["silence"] < hybrid["silence"] <= 1.01 * flac["silence"] + 16 and hybrid["tone"] < 1.01 * flac["tone"]
    assert out[0].startswith("=== corpus: 2 files, ")
    assert out[1].split()[:3] == ["flac", "-8", f"{sum(flac.values()):,d}"]
    assert out[2].split()[:2] == ["hybrid", f"{sum(hybrid.values()):,d}"]
    assert out[3].endswith("by more than 1%: 1 of 2 files")
    worst = out[5].split()
    assert worst[:3] == [f"{hybrid['silence'] / flac['silence']:.3f}", f"{hybrid['silence']:,d}",
                         f"{flac['silence']:,d}"]
    assert worst[4:7] == ["16", "8000", "1"] and worst[-1].endswith("silence.wav")
    assert "every hybrid file decoded exactly" in out[6]
    # a file the hybrid cannot code is one failed row and exit status 1
    audio.write_pcm(folder / "three.wav", synth(2000, 3, 16), 16000, 16)
    assert hybrid_vs_flac.main(["--model", str(model), "--dataset", str(folder), "--split", "all"]) == 1
    out = capsys.readouterr().out
    assert "3 files" in out and "1 FAILED" in out and "FAILED three.wav: CodecError: audio must have shape" in out


def payload_bytes(coder: object, folder: Path, name: str) -> int:
    """What the classical baseline's coder counts as the payload of file ``name`` in ``folder``."""
    from trilobyte.core.datasets import get_dataset

    dataset = get_dataset(str(folder), split="all")
    ref = next(r for r in dataset.refs if r.id == name)
    return coder.code_file(dataset.load(ref)).compressed_bits // 8


def coder_bytes(lines: list[str], coder: str) -> int:
    """The byte total printed on a coder's line of the report."""
    line = next(x for x in lines if x.startswith(f"  {coder} "))
    return int(line[len(coder) + 2:].split()[0].replace(",", ""))


@pytest.mark.skipif(shutil.which("wavpack") is None or shutil.which("wvunpack") is None,
                    reason="the Debian package wavpack is not installed")
def test_hybrid_vs_flac_with_wavpack_and_the_default_model(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("numba")
    from baselines.classical.cli import build_coders
    from benchmarks import hybrid_vs_flac
    from tests.conftest import synth
    from trilobyte.core import audio
    from trilobyte.hybrid import codec
    from trilobyte.hybrid.defaults import resolve_model

    folder = tmp_path / "corpus"
    folder.mkdir()
    tone = synth(4000, 2, 16)
    audio.write_pcm(folder / "tone.wav", tone, 16000, 16)
    status = hybrid_vs_flac.main(["--dataset", str(folder), "--split", "all", "--wavpack"])  # no --model
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert [line.split()[0] for line in out[1:4]] == ["flac", "WavPack", "hybrid"]
    wavpack = payload_bytes(build_coders("wavpack", ["hhx6"])[0], folder, "tone.wav")
    assert coder_bytes(out, "WavPack -hhx6") == wavpack
    hybrid = codec.encode(tone, 16000, 16, resolve_model(None)).container.payload_bytes
    assert coder_bytes(out, "hybrid") == hybrid
    against = next(line for line in out if line.startswith("  hybrid against WavPack -hhx6"))
    assert against == (f"  hybrid against WavPack -hhx6: {100 * (wavpack / hybrid - 1):+.2f}% rate;"
                       f" above it by more than 1%: {int(hybrid > 1.01 * wavpack)} of 1 files")
    assert "WavPack -hhx6 file decoded and compared" in out[-1]


def test_hybrid_vs_flac_refuses_a_missing_sac_or_wavpack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import hybrid_vs_flac
    from tests.conftest import synth
    from trilobyte.core import audio

    folder = tmp_path / "corpus"
    folder.mkdir()
    audio.write_pcm(folder / "tone.wav", synth(1000, 1, 16), 16000, 16)
    argv = ["--model", str(small_hybrid_model(tmp_path)), "--dataset", str(folder), "--split", "all"]
    with pytest.raises(SystemExit) as stop:
        hybrid_vs_flac.main([*argv, "--sac", "/nonexistent"])
    assert stop.value.code == 2
    assert "--sac: /nonexistent is not an executable file" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # neither wavpack nor wvunpack on it
    with pytest.raises(SystemExit) as stop:
        hybrid_vs_flac.main([*argv, "--wavpack"])
    assert stop.value.code == 2
    assert "install the Debian package wavpack" in capsys.readouterr().err


SAC_BINARY = os.environ.get("TRILOBYTE_SAC_BINARY")


@pytest.mark.skipif(not SAC_BINARY, reason="set TRILOBYTE_SAC_BINARY to a built sac program to run this test")
def test_hybrid_vs_flac_with_sac_leaves_24bit_files_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("numba")
    from baselines.classical.cli import build_coders
    from benchmarks import hybrid_vs_flac
    from tests.conftest import synth
    from trilobyte.core import audio
    from trilobyte.hybrid import codec

    model = small_hybrid_model(tmp_path)
    folder = tmp_path / "corpus"
    folder.mkdir()
    tone, deep = synth(4000, 2, 16), synth(3000, 1, 24, seed=1)
    audio.write_pcm(folder / "tone.wav", tone, 16000, 16)
    audio.write_pcm(folder / "deep.wav", deep, 48000, 24)
    status = hybrid_vs_flac.main(["--model", str(model), "--dataset", str(folder), "--split", "all",
                                  "--sac", str(SAC_BINARY), "--jobs", "2"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert [line.split()[0] for line in out[1:4]] == ["flac", "sac", "hybrid"]
    sac = payload_bytes(build_coders("sac", None, Path(str(SAC_BINARY)))[0], folder, "tone.wav")
    assert coder_bytes(out, "sac --normal") == sac
    assert "(over the 1 file of 2 it coded; 1 file without a sac --normal figure: sac codes 8, 16-bit" in out[2]
    hybrid = codec.encode(tone, 16000, 16, model).container.payload_bytes
    assert coder_bytes(out, "hybrid") == hybrid + codec.encode(deep, 48000, 24, model).container.payload_bytes
    against = next(line for line in out if line.startswith("  hybrid against sac --normal"))
    assert against == (f"  hybrid against sac --normal over the 1 file sac coded: {100 * (sac / hybrid - 1):+.2f}%"
                       f" rate; above it by more than 1%: {int(hybrid > 1.01 * sac)} of 1 files")
    assert "every sac --normal file decoded and compared" in out[-1]
    # a dataset sac coded nothing of: no claim that its files were decoded and compared
    (folder / "tone.wav").unlink()
    assert hybrid_vs_flac.main(["--model", str(model), "--dataset", str(folder), "--split", "all",
                                "--sac", str(SAC_BINARY)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "sac --normal" not in last and "hybrid file decoded" not in last


def test_hybrid_speed_with_the_default_model_and_flac(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import hybrid_speed

    hybrid_speed.main(["--seconds", "0.3", "--gpt2-seconds", "0"])
    out = capsys.readouterr().out
    assert "hybrid (1 process)" in out and "flac -8 (libFLAC)" in out and "sac" not in out
    with pytest.raises(SystemExit) as exit_:
        hybrid_speed.main(["--sac", "/nonexistent/sac"])
    assert exit_.value.code == 2


@pytest.mark.skipif(not SAC_BINARY, reason="set TRILOBYTE_SAC_BINARY to a built sac program to run this test")
def test_hybrid_speed_times_sac_beside_it(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import hybrid_speed

    hybrid_speed.main(["--seconds", "0.3", "--gpt2-seconds", "0", "--sac", str(SAC_BINARY)])
    assert "sac --normal" in capsys.readouterr().out
