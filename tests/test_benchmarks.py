"""Smoke test of the benchmark scripts: they run end to end and print their tables (no timing asserts)."""

from __future__ import annotations

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
