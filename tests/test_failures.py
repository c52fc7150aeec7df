"""One file that fails in an unexpected way is that file's failed row; the run finishes and writes its result."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import synth
from malformed import TRILOBYTE_FLAGS, tiny_trilobyte_model

from baselines.flac.codec import FlacSettings, encode
from baselines.flac.coder import FlacCoder
from trilobyte.core import audio
from trilobyte.core.datasets import Dataset
from trilobyte.core.results import ResultStore

BROKEN = "speaker1/clip2.wav"


def break_loading(monkeypatch: pytest.MonkeyPatch, broken: str = BROKEN) -> None:
    """``Dataset.load`` raises an exception type no reader raises, for one file."""
    original = Dataset.load

    def load(self, ref):
        if ref.id.split("#")[0] == broken:
            raise RuntimeError("the reader fell over")
        return original(self, ref)

    monkeypatch.setattr(Dataset, "load", load)


def sweep(folder: Path, out: Path) -> int:
    from baselines.flac.sweep import main

    return main(["--dataset", str(folder), "--levels", "5", "--disable-subframes", "none", "--out", str(out),
                 "--no-progress", "--jobs", "1"])


def only_result(out: Path):
    ((_, result),) = ResultStore(out).all_results()
    return result


def test_an_unexpected_coder_exception_is_a_failed_row(audio_folder, tmp_path, monkeypatch):
    original = FlacCoder.code_file

    def code_file(self, clip):
        if clip.id == BROKEN:
            raise RuntimeError("the coder fell over")
        return original(self, clip)

    monkeypatch.setattr(FlacCoder, "code_file", code_file)
    assert sweep(audio_folder, tmp_path / "out") == 1
    result = only_result(tmp_path / "out")
    assert [(f.id, f.error) for f in result.failures] == [(BROKEN, "RuntimeError: the coder fell over")]
    assert len(result.ok_files) == 7 and result.rate


def test_an_unexpected_reader_exception_is_a_failed_row(audio_folder, tmp_path, monkeypatch):
    break_loading(monkeypatch)
    assert sweep(audio_folder, tmp_path / "out") == 1
    result = only_result(tmp_path / "out")
    assert [(f.id, f.error) for f in result.failures] == [(BROKEN, "RuntimeError: the reader fell over")]
    assert len(result.ok_files) == 7


# -- the in-context LLM reads its chunks itself


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from tests.llm_tiny import llama_tokenizer, save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("llm") / "tiny-llama", llama_tokenizer())


def llm(folder: Path, model: Path, out: Path) -> int:
    from baselines.llm_incontext.cli import main

    return main(["--model", str(model), "--dataset", str(folder), "--chunks", "1000", "--chunk-samples", "512",
                 "--mapping", "bytes", "--out", str(out), "--no-progress"])


def test_in_context_chunk_of_a_file_that_fails_to_load_is_a_failed_row(audio_folder, tiny_llama, tmp_path,
                                                                       monkeypatch):
    """A reader exception of an unexpected type used to end the whole in-context run."""
    break_loading(monkeypatch)
    assert llm(audio_folder, tiny_llama, tmp_path / "out") == 1
    result = only_result(tmp_path / "out")
    assert {(f.id, f.error) for f in result.failures} == {(f"{BROKEN}@{k}", "RuntimeError: the reader fell over")
                                                          for k in range(0, 4200 - 511, 512)}
    assert len(result.ok_files) == len(result.files) - 8 > 0


def test_in_context_odd_depth_file_is_a_failed_row_beside_coded_ones(audio_folder, tiny_llama, tmp_path):
    """A 12-bit file among 16-bit ones used to end the in-context run with a traceback."""
    (audio_folder / "speaker0" / "d12.flac").write_bytes(encode(synth(512, 1, 12), 16000, 12, FlacSettings(5)))
    assert llm(audio_folder, tiny_llama, tmp_path / "out") == 1
    result = only_result(tmp_path / "out")
    (failed,) = result.failures
    assert failed.id == "speaker0/d12.flac@0" and "this file is 12-bit" in failed.error
    assert len(result.ok_files) == len(result.files) - 1 > 0


# -- Trilobyte


def test_trilobyte_codes_the_files_it_can_beside_an_odd_depth_one(tmp_path):
    """One 12-bit file used to refuse the whole dataset: now it is the failed row and the others are coded."""
    pytest.importorskip("torch")
    from trilobyte.gpt2 import estimate

    folder = tmp_path / "corpus"
    folder.mkdir()
    audio.write_pcm(folder / "a.wav", synth(600, 1, 16, seed=1), 8000, 16)
    (folder / "b.flac").write_bytes(encode(synth(600, 1, 12, seed=2), 8000, 12, FlacSettings(5)))
    model = tiny_trilobyte_model(tmp_path / "model")
    argv = ["--model", str(model), "--dataset", str(folder), "--split", "all", *TRILOBYTE_FLAGS]
    assert estimate.main([*argv, "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    result = only_result(tmp_path / "out")
    assert [f.id for f in result.ok_files] == ["a.wav"]
    (failed,) = result.failures
    assert failed.id == "b.flac" and "byte tokens need 8, 16 or 24-bit audio" in failed.error
    assert "this file is 12-bit" in failed.error
    # a dataset no file of which the model can take is still refused before any work
    (folder / "a.wav").unlink()
    assert estimate.main([*argv, "--out", str(tmp_path / "none"), "--no-progress"]) == 1
    assert not (tmp_path / "none").exists()
