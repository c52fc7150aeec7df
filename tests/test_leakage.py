"""No tuning on the evaluation split: training on it needs a flag, evaluating on trained clips is refused."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from trilobyte.core import audio  # noqa: E402
from trilobyte.core.datasets import folder_dataset, get_dataset  # noqa: E402
from trilobyte.core.leakage import CLIPS_FILE, clip_key, clip_keys, trained_clips  # noqa: E402
from trilobyte.core.results import ResultStore  # noqa: E402
from trilobyte.gpt2 import estimate, train  # noqa: E402
from trilobyte.gpt2.model import read_info  # noqa: E402

TRAIN = ["--preset", "tiny", "--steps", "2", "--val-windows", "2", "--batch-size", "2", "--context", "64"]
QUIET = ["--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Short cuts of real speech (8 kHz, 16-bit): 6 speaker folders of 2 clips each."""
    folder = tmp_path_factory.mktemp("leak") / "voices"
    clips = (c for c in get_dataset("demo-speech").clips() if c.num_samples >= 2400)
    for i in range(12):
        clip = next(clips)
        (folder / f"speaker{i // 2}").mkdir(parents=True, exist_ok=True)
        audio.write_pcm(folder / f"speaker{i // 2}" / f"take{i}.wav", clip.samples[2000:2400], 8000, 16)
    return folder


@pytest.fixture(scope="module")
def model(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    assert train.main(["--dataset", str(corpus), *TRAIN, *QUIET, "--out", str(out)]) == 0
    return out


def run_estimate(model: Path, dataset: str, split: str, out: Path, *flags: str) -> int:
    estimate._LOADED.clear()
    argv = ["--model", str(model), "--dataset", dataset, "--split", split, "--out", str(out), *flags]
    return estimate.main([*argv, "--no-progress", "--threads", "1", "--stride", "32"])


def only_result(out: Path):
    ((_, result),) = ResultStore(out).all_results()
    return result


def test_training_on_test_or_all_needs_a_flag_that_is_recorded(corpus: Path, tmp_path: Path) -> None:
    for split in ("test", "all"):
        with pytest.raises(SystemExit) as refused:
            train.main(["--dataset", str(corpus), "--split", split, *TRAIN, *QUIET, "--out", str(tmp_path / split)])
        assert refused.value.code == 2 and not (tmp_path / split).exists()
    out = tmp_path / "on-all"
    argv = ["--dataset", str(corpus), "--split", "all", "--allow-eval-split", *TRAIN, *QUIET, "--out", str(out)]
    assert train.main(argv) == 0
    record = read_info(out).training
    assert record["allow_eval_split"] is True and record["datasets"][0]["split"] == "all"
    assert record["training_clips"]["count"] == 12
    # every split of it was seen: evaluating its test split is refused, or marked when allowed
    assert run_estimate(out, str(corpus), "test", tmp_path / "r") == 2 and not (tmp_path / "r").exists()
    assert run_estimate(out, str(corpus), "test", tmp_path / "r", "--allow-trained-clips") == 0
    result = only_result(tmp_path / "r")
    assert result.extra["trained_on_evaluated_clips"] is True
    assert result.extra["trained_clips_evaluated"] == len(result.files) > 0


def test_the_model_records_its_training_clips(model: Path, corpus: Path) -> None:
    record = read_info(model).training
    assert record["allow_eval_split"] is False
    train_split = folder_dataset(corpus).with_split("train")
    for folder in (model, model / train.CHECKPOINT):
        keys = np.load(folder / CLIPS_FILE, allow_pickle=False)  # a plain array, not a pickle
        assert keys.dtype == np.uint64 and np.all(np.diff(keys.astype(np.float64)) > 0)
        assert keys.tolist() == clip_keys([train_split]).tolist()
    assert record["training_clips"]["count"] == len(train_split) == 8


def test_estimating_on_training_clips_is_refused_or_marked(
    model: Path, corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert run_estimate(model, str(corpus), "test", tmp_path / "test") == 0
    clean = only_result(tmp_path / "test")
    assert clean.extra["trained_on_evaluated_clips"] is False and len(clean.ok_files) == 2

    with caplog.at_level(logging.ERROR):
        assert run_estimate(model, str(corpus), "train", tmp_path / "train") == 2
    assert "trained on 8 of the 8 clips of voices (split train)" in caplog.text
    assert not (tmp_path / "train").exists()
    assert run_estimate(model, str(corpus), "train", tmp_path / "train", "--coded") == 2

    assert run_estimate(model, str(corpus), "train", tmp_path / "train", "--allow-trained-clips") == 0
    marked = only_result(tmp_path / "train")
    assert marked.extra["trained_on_evaluated_clips"] is True and marked.extra["trained_clips_evaluated"] == 8
    saved = json.loads(next((tmp_path / "train").rglob("*.json")).read_text())
    assert saved["extra"]["trained_on_evaluated_clips"] is True


def test_training_clips_are_recognised_under_another_name(model: Path, corpus: Path, tmp_path: Path) -> None:
    # one training speaker's folder copied elsewhere: a folder dataset of its own, split "all"
    train_groups = sorted({r.group for r in folder_dataset(corpus).with_split("train").refs})
    copy = tmp_path / "elsewhere"
    shutil.copytree(corpus / train_groups[0], copy / train_groups[0])
    assert run_estimate(model, str(copy), "all", tmp_path / "r") == 2
    # an 8-bit view of the same files is the same clips
    record = read_info(model).training
    eight = folder_dataset(corpus).with_split("train").with_bit_depth(8)
    assert len(trained_clips(record, eight, model).clips) == 8


def test_records_without_a_clip_list_are_judged_by_name_and_split() -> None:
    ds = get_dataset("demo-speech48", split="test")
    record = {"datasets": [{"name": "demo-speech48", "split": "train", "fingerprint": "x"}]}
    assert not trained_clips(record, ds)
    record["datasets"][0]["split"] = "all"
    overlap = trained_clips(record, ds)
    assert len(overlap.clips) == len(ds) and not overlap.exact
    eight = get_dataset("demo-speech48-mulaw8", split="test", limit=1)
    assert trained_clips({"datasets": [{"name": "demo-speech48", "split": "test"}]}, eight)


def test_clip_key_ignores_name_split_and_depth() -> None:
    native = get_dataset("demo-speech48")
    keys = [clip_key(r) for r in native.refs]
    assert len(set(keys)) == len(keys)
    assert keys == [clip_key(r) for r in get_dataset("demo-speech48-mulaw8").refs]
