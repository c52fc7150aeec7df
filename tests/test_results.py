"""Result records, the accounting, the store, resume logs and shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trilobyte.core.protocol import FileRate, RateResult, ratio_of_sums_interval
from trilobyte.core.results import ResultError, ResultStore, Shard, atomic_write_text, csv_path, merge_shards
from trilobyte.core.results import main as results_main


def make_result(files: list[FileRate], shard: str | None = None, fingerprint: str = "abc") -> RateResult:
    return RateResult(
        method="m",
        config_name="c1",
        config={"k": 1},
        dataset="d",
        dataset_fingerprint=fingerprint,
        split="all",
        bit_depth="native",
        conversion="linear",
        domain="music",
        mode="coded",
        files=files,
        shard=shard,
    )


def rows() -> list[FileRate]:
    return [
        FileRate("a", raw_bits=1600, compressed_bits=800, container_bits=80, seconds=1.0, audio_seconds=10.0),
        FileRate("b", raw_bits=1600, compressed_bits=400, seconds=1.0, audio_seconds=10.0),
        FileRate.failed("c", "AudioError: broken"),
    ]


def test_accounting_is_a_ratio_of_sums() -> None:
    r = make_result(rows())
    assert r.raw_bits == 3200 and r.compressed_bits == 1200 and r.container_bits == 80
    assert r.rate == pytest.approx(3200 / 1200)
    assert r.rate_with_container == pytest.approx(3200 / 1280)
    assert r.mean_file_rate == pytest.approx((2 + 4) / 2)
    assert len(r.failures) == 1 and r.xrealtime == pytest.approx(10.0)
    low, high = r.rate_interval
    assert 2.0 <= low <= r.rate <= high <= 4.0


def test_mode_must_be_known() -> None:
    with pytest.raises(ValueError, match="mode"):
        RateResult(
            method="m",
            config_name="c",
            config={},
            dataset="d",
            dataset_fingerprint="f",
            split="all",
            bit_depth="8",
            conversion="mulaw",
            domain="x",
            mode="guessed",
            files=[],
        )


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    raw = rng.integers(1000, 5000, 200).astype(float)
    comp = raw / rng.uniform(1.5, 2.5, 200)
    a, b = ratio_of_sums_interval(raw, comp), ratio_of_sums_interval(raw, comp)
    assert a == b and a[0] < raw.sum() / comp.sum() < a[1]
    assert ratio_of_sums_interval(raw[:1], comp[:1]) is None


def test_interval_resamples_whole_clips_when_rows_name_them() -> None:
    # 8 clips of 25 chunks each: chunks of one clip compress alike, clips differ (one recording is one draw)
    rng = np.random.default_rng(2)
    clip_rates = rng.uniform(1.4, 3.0, 8)
    clips = np.repeat(np.arange(8), 25)
    raw = np.full(clips.size, 16_000.0)
    comp = raw / (clip_rates[clips] * rng.normal(1.0, 0.01, clips.size))
    per_chunk = ratio_of_sums_interval(raw, comp)
    per_clip = ratio_of_sums_interval(raw, comp, groups=[f"clip{c}.wav" for c in clips])
    assert per_clip[0] < raw.sum() / comp.sum() < per_clip[1]
    assert per_clip[1] - per_clip[0] > 3 * (per_chunk[1] - per_chunk[0])
    # summed by group: the same as resampling one row per clip holding that clip's totals
    totals = ratio_of_sums_interval(np.bincount(clips, raw), np.bincount(clips, comp))
    assert per_clip == pytest.approx(totals)
    # a result whose rows name their clip gets the clip interval, in its summary too
    rows = [FileRate(f"clip{c}.wav@{i}", int(r), int(b), extra={"clip": f"clip{c}.wav"})
            for i, (c, r, b) in enumerate(zip(clips, raw, comp, strict=True))]
    result = RateResult("m", "c", {}, "d", "fp", "test", "16", "linear", "x", "ideal", rows)
    assert result.rate_interval == pytest.approx(ratio_of_sums_interval(
        raw, np.array([f.compressed_bits for f in rows], dtype=float), groups=clips.astype(str)))
    assert result.summary()["rate_ci95"][1] - result.summary()["rate_ci95"][0] > 3 * (per_chunk[1] - per_chunk[0])


def test_store_round_trip_json_and_csv(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    path = store.write(make_result(rows()), "d.test")
    assert path == tmp_path / "d.test" / "m" / "c1.json"
    data = json.loads(path.read_text())
    assert data["summary"]["rate"] == pytest.approx(3200 / 1200) and data["summary"]["failed_files"] == 1
    loaded = store.load(path)
    assert loaded.files == make_result(rows()).files and loaded.rate == pytest.approx(3200 / 1200)
    csv_lines = csv_path(path).read_text().splitlines()
    assert csv_lines[0].startswith("id,raw_bits,compressed_bits") and len(csv_lines) == 4
    assert "AudioError: broken" in csv_lines[3]


def test_atomic_write_keeps_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic_write_text(target, "old")

    with pytest.raises(TypeError):  # the write fails half-way: the old result must survive
        atomic_write_text(target, 12345)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_partial_log_resumes_and_ignores_a_torn_line(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    path = store.partial_path("d", "m", "c1")
    log = store.open_partial(path, "fp1")
    for row in rows()[:2]:
        log.append(row)
    log.close()
    with path.open("a") as handle:
        handle.write('{"id": "half')
    done = store.read_partial(path, "fp1")
    assert sorted(done) == ["a", "b"] and done["a"].compressed_bits == 800
    with pytest.raises(ResultError, match="fingerprint"):
        store.read_partial(path, "other")


def test_shards_parse_and_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Shard.parse("1/3") == Shard(1, 3) and Shard.parse(None) is None
    with pytest.raises(ValueError, match="i/n"):
        Shard.parse("3/3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    assert Shard.parse("auto") == Shard(1, 2)

    store = ResultStore(tmp_path)
    a, b, c = rows()
    store.write(make_result([a], shard="0/2"), "d")
    with pytest.raises(ResultError, match=r"shard\(s\) \[1\] of 2"):
        merge_shards(store, "d", "m", "c1")
    store.write(make_result([b, c], shard="1/2"), "d")
    assert results_main(["merge", "--out", str(tmp_path)]) == 0
    merged = store.find("d", "m", "c1")
    assert merged is not None and [f.id for f in merged.files] == ["a", "b", "c"]
    assert merged.shard is None and merged.rate == pytest.approx(3200 / 1200)


def test_merge_refuses_mixed_datasets(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    a, b, _ = rows()
    store.write(make_result([a], shard="0/2", fingerprint="x"), "d")
    store.write(make_result([b], shard="1/2", fingerprint="y"), "d")
    with pytest.raises(ResultError, match="different datasets"):
        merge_shards(store, "d", "m", "c1")
