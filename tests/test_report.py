"""The report, from small synthetic result sets: tables, figures, missing cells, no re-running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.make_report import build_report
from baselines.flac.coder import make_flac
from trilobyte.core.protocol import FileRate, RateResult
from trilobyte.core.registry import declared_report, report_fields
from trilobyte.core.results import ResultStore

ROOT = Path(__file__).resolve().parents[1]


def fake_result(dataset: str, method: str, config: dict, config_name: str, ratio: float, depth: int = 16,
                mode: str = "coded", split: str = "test", report: dict | None = None) -> RateResult:
    """A result as the runner writes it; ``report`` defaults to what the registered method declares."""
    files = [FileRate(f"f{i}", raw_bits=16000 * depth, compressed_bits=int(16000 * depth / (ratio + 0.01 * i)),
                      sample_rate=16000, channels=1, bit_depth=depth, seconds=0.1, audio_seconds=1.0)
             for i in range(-2, 3)]
    result = RateResult(method=method, config_name=config_name, config=config, dataset=dataset,
                        dataset_fingerprint="fp", split=split, bit_depth=str(depth), conversion="linear",
                        domain="speech", mode=mode, files=files)
    result.report = report if report is not None else declared_report(method, config, config_name)
    return result


def flac(level: int, disabled: bool = False) -> dict:
    return {"level": level, "disable_subframes": ["constant", "fixed", "verbatim"] if disabled else [],
            "exhaustive_model_search": False, "max_lpc_order": None, "blocksize": None}


def flac_result(dataset: str, level: int, ratio: float, disabled: bool = False, depth: int = 16) -> RateResult:
    """A FLAC result with the report fields the runner stamps from the real coder."""
    coder = make_flac(level, ("constant", "fixed", "verbatim") if disabled else ())
    return fake_result(dataset, coder.name, {**flac(level, disabled), "libflac": "1.4.3"}, coder.config_name(),
                       ratio, depth, report=report_fields(coder))


def model(column: str = "Trilobyte") -> dict:
    """A Trilobyte model's saved config (sample tokens: Standard; two datasets: Transfer)."""
    scheme = "sample" if column == "Standard" else "bytes"
    trained = ["a", "b"] if column == "Transfer" else ["a"]
    return {"model": column.lower(), "preset": "tiny", "tokenizer": {"scheme": scheme}, "trained_on": trained}


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    store = ResultStore(tmp_path / "results")
    for dataset, depth, base in (("speechA", 16, 1.6), ("musicB", 8, 2.0)):
        for level in range(9):
            for disabled in (False, True):
                name = f"level{level}" + ("_no-constant-fixed-verbatim" if disabled else "")
                rate = base + 0.05 * level - (0.1 if disabled and level >= 3 else 0)
                r = flac_result(dataset, level, rate, disabled, depth)
                assert r.config_name == name
                store.write(r, f"{dataset}.test")
        store.write(fake_result(dataset, "trilobyte", model(), "small", base + 1.0, depth, mode="ideal"),
                    f"{dataset}.test")
    return tmp_path / "results"


def test_report_has_table1_figures_and_missing_cells(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report = build_report(results_dir, out).read_text()
    table = pd.read_csv(out / "table1_test.csv")
    assert list(table["Dataset"]) == ["musicB", "speechA"]  # 8-bit rows before 16-bit rows
    speech = table.set_index("Dataset").loc["speechA"]
    assert speech["FLAC"].startswith("2.00")  # level 8: 1.6 + 0.4
    assert speech["Trilobyte"].startswith("**2.60") and speech["Trilobyte"].endswith("†**")
    assert speech["In-context"] == "—"
    assert "python -m baselines.llm_incontext --dataset speechA --split test" in report
    assert "speechA / Standard" in report and "musicB / Transfer" in report
    # at 8 bits a sample is a byte: Standard is the Trilobyte model, so its empty cell is not missing
    assert table.set_index("Dataset").loc["musicB", "Standard"] == "= Trilobyte" and speech["Standard"] == "—"
    assert "musicB / Standard" not in report
    assert "At 8 bits one sample is one byte, so Standard's sample tokens are Trilobyte's byte tokens: the two are" \
           " one model" in report
    assert (out / "figures" / "figure2_flac_levels_test.png").stat().st_size > 10_000
    assert (out / "figures" / "figure2_flac_levels_test.pdf").exists()
    tex = (out / "table1_test.tex").read_text()
    assert r"\textbf{2.60" in tex and r"\toprule" in tex
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "<table>" in page


def test_failed_files_are_shown_not_hidden(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    r = flac_result("speechA", 8, 2.0)
    r.files.append(FileRate.failed("bad.wav", "AudioError: truncated"))
    store.write(r, "speechA.test")
    build_report(tmp_path / "results", tmp_path / "out")
    assert "(1 failed)" in pd.read_csv(tmp_path / "out" / "table1_test.csv").loc[0, "FLAC"]


def test_a_model_evaluated_on_its_training_clips_is_marked_and_never_best(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    store.write(flac_result("speechA", 8, 2.0), "speechA.test")
    leaked = fake_result("speechA", "trilobyte", model(), "leaked", 9.0, mode="ideal")
    leaked.extra["trained_on_evaluated_clips"] = True
    store.write(leaked, "speechA.test")
    build_report(tmp_path / "results", tmp_path / "out")
    row = pd.read_csv(tmp_path / "out" / "table1_test.csv").loc[0]
    assert row["Trilobyte"].startswith("9.00") and "(trained on these clips)" in row["Trilobyte"]
    assert row["FLAC"].startswith("**2.00")  # the clean cell is the row's best
    # a clean result of the same cell fills it, though its rate is lower
    store.write(fake_result("speechA", "trilobyte", model(), "clean", 3.0, mode="ideal"), "speechA.test")
    build_report(tmp_path / "results", tmp_path / "out2")
    assert pd.read_csv(tmp_path / "out2" / "table1_test.csv").loc[0, "Trilobyte"].startswith("**3.00")


def test_report_never_imports_torch(results_dir: Path, tmp_path: Path) -> None:
    code = ("import sys; from analysis.make_report import main; "
            f"main(['--results', {str(results_dir)!r}, '--out', {str(tmp_path / 'r')!r}]); "
            "assert 'torch' not in sys.modules, 'the report imported torch'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, timeout=120)


def test_empty_results_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no results under"):
        build_report(tmp_path / "nothing", tmp_path / "out")


def test_correlation_matches_scipy_and_a_hand_computed_case() -> None:
    from scipy import stats as scipy_stats

    from analysis.stats import correlate

    x, y = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.0, 4.0, 5.0, 4.0, 9.0])
    result = correlate(x, y)
    dx, dy = x - x.mean(), y - y.mean()
    by_hand = (dx * dy).sum() / np.sqrt((dx**2).sum() * (dy**2).sum())
    assert result.pearson_r == pytest.approx(by_hand) == pytest.approx(14 / np.sqrt(268))
    assert result.pearson_p == pytest.approx(scipy_stats.pearsonr(x, y).pvalue)
    assert result.spearman_rho == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    low, high = result.pearson_ci95
    assert -1 <= low <= result.pearson_r <= high <= 1
    with pytest.raises(ValueError, match="at least 3"):
        correlate(x[:2], y[:2])


def test_report_correlates_flac_and_trilobyte_over_16bit_datasets(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    for i, name in enumerate(["a", "b", "c", "d"]):
        store.write(flac_result(name, 8, 1.5 + 0.2 * i), f"{name}.test")
        store.write(fake_result(name, "trilobyte", model(), "small", 1.6 + 0.25 * i + 0.02 * (i % 2), mode="ideal"),
                    f"{name}.test")
    report = build_report(tmp_path / "results", tmp_path / "out").read_text()
    rates = {m: [store.find(f"{n}.test", m, c).rate for n in "abcd"] for m, c in (("flac", "level8"),
                                                                                   ("trilobyte", "small"))}
    from analysis.stats import correlate

    expected = correlate(np.array(rates["flac"]), np.array(rates["trilobyte"]))
    assert expected.describe() in report and "n = 4 datasets" in report
    assert (tmp_path / "out" / "figures" / "correlation_flac_trilobyte_test.png").exists()


def test_report_correlates_flac_and_transfer_when_trilobyte_has_too_few_datasets(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    flac_rates, transfer_rates = [1.5, 1.9, 2.6], [1.4, 2.0, 2.2]
    for name, x, y in zip("abc", flac_rates, transfer_rates, strict=True):
        store.write(flac_result(name, 8, x), f"{name}.test")
        store.write(fake_result(name, "trilobyte", model("Transfer"), "transfer", y, mode="ideal"), f"{name}.test")
    store.write(fake_result("a", "trilobyte", model(), "small", 1.7, mode="ideal"), "a.test")
    report = build_report(tmp_path / "results", tmp_path / "out").read_text()
    from analysis.stats import correlate

    assert "1 16-bit dataset(s) have both FLAC and Trilobyte rates; a correlation needs 3 or more." in report
    x = [store.find(f"{n}.test", "flac", "level8").rate for n in "abc"]
    y = [store.find(f"{n}.test", "trilobyte", "transfer").rate for n in "abc"]
    expected = correlate(np.array(x), np.array(y))
    assert "Correlation: FLAC vs Transfer over 16-bit datasets (test split)" in report
    assert expected.describe() in report and "n = 3 datasets" in report
    assert (tmp_path / "out" / "figures" / "correlation_flac_transfer_test.png").exists()


def test_results_saved_without_report_fields_read_their_registration() -> None:
    from analysis.collect import table_column

    def column(method: str, config: dict) -> str:
        return table_column(fake_result("d", method, config, "c", 2.0, report={}))  # saved before `report`

    assert column("flac", flac(8)) == "FLAC"
    assert column("flac", flac(5)) == "FLAC max" and column("flac", flac(8, disabled=True)) == "FLAC max"
    assert column("flac-cli", {"preset": "8ep", "options": ["-8", "-e", "-p"]}) == "FLAC max"
    assert column("flac-frames", flac(8)) == ""
    assert column("trilobyte", {"tokenizer": {"scheme": "bytes"}, "trained_on": ["a"]}) == "Trilobyte"
    assert column("trilobyte", {"tokenizer": {"scheme": "sample"}, "trained_on": ["a"]}) == "Standard"
    assert column("trilobyte", {"tokenizer": {"scheme": "bytes"}, "trained_on": ["a", "b"]}) == "Transfer"
    assert column("trilobyte", {"tokenizer": {"scheme": "bytes", "depth_dropout": {"8": 0.2}}}) == "Transfer"
    assert column("wavpack", {"preset": "hhx6", "options": ["-hhx6"]}) == "WavPack -hhx6"
    assert column("gzip", {"compressor": "gzip", "preset": 9}) == "gzip -9"
    assert column("llm-incontext", {"model_label": "m", "mapping": "bytes"}) == "In-context bytes"
    assert column("someone-elses-codec", {}) == "someone-elses-codec"  # no longer registered: its own column
    # the saved-config declaration is the one the estimators use: equal for every FLAC setting
    for coder in (make_flac(8), make_flac(5), make_flac(8, ("constant",)), make_flac(6, (), True, 12, 4096)):
        saved = {**coder.settings.as_dict(), "libflac": "1.4.3"}
        assert declared_report(coder.name, saved, coder.config_name()) == report_fields(coder)


def test_every_method_has_its_own_colour_and_keeps_it() -> None:
    from analysis.figures import method_palette

    paper = ["FLAC", "FLAC max", "Trilobyte"]
    columns = [*paper, *[f"codec{i}" for i in range(12)]]
    palette = method_palette(columns, paper)
    assert len(set(palette.values())) == len(columns)
    assert method_palette(["FLAC", "WavPack -hhx6"], paper)["FLAC"] == palette["FLAC"]


def test_paper_columns_first_and_other_codecs_in_their_own_table(tmp_path: Path) -> None:
    from baselines.classical.general import GeneralCoder

    store = ResultStore(tmp_path / "results")
    store.write(flac_result("speech", 8, 1.6), "speech.test")
    gzip = GeneralCoder.create("gzip")
    store.write(fake_result("speech", gzip.name, gzip.config(), gzip.config_name(), 1.2, report=report_fields(gzip)),
                "speech.test")
    store.write(fake_result("speech", "wavpack", {"preset": "hhx6", "options": ["-hhx6"]}, "hhx6", 1.7),
                "speech.test")
    # a plug-in nobody registered here: its result declares its own column, and gets it (and a colour)
    plugin = {"column": "Shorten order 2", "also_columns": [], "label": "Shorten order 2", "method_label": "Shorten",
              "family": "classical", "paper": False, "figures": []}
    store.write(fake_result("speech", "shorten", {"order": 2}, "order2", 1.5, report=plugin), "speech.test")
    out = tmp_path / "out"
    report = build_report(tmp_path / "results", out).read_text()
    paper = pd.read_csv(out / "table1_test.csv")
    assert list(paper.columns)[4:] == ["FLAC", "FLAC max", "In-context", "Standard", "Trilobyte", "Transfer", "Hybrid"]
    others = pd.read_csv(out / "table1_other_codecs_test.csv")
    assert list(others.columns)[4:] == ["WavPack -hhx6", "Shorten order 2", "gzip -9"]  # in declared order
    assert others.loc[0, "WavPack -hhx6"].startswith("**1.7")  # the row's best over both tables
    assert paper.loc[0, "FLAC"].startswith("1.6") and not paper.loc[0, "FLAC"].startswith("**")
    assert "## Other codecs: compression rate (×), test split" in report and "| Shorten order 2 |" in report
    assert "Shorten order 2" in (out / "table1_other_codecs_test.tex").read_text()
    assert "<th>WavPack -hhx6</th>" in (out / "report.html").read_text()
    assert "Shorten order 2" in (out / "all_results.csv").read_text()


def test_flac_max_never_goes_to_a_setting_with_failed_files(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    store.write(flac_result("speech", 8, 2.0), "speech.test")
    partial = flac_result("speech", 5, 2.5)  # rated on the files it managed: looks better than it is
    partial.files.append(FileRate.failed("hard.wav", "AudioError: cannot code"))
    store.write(partial, "speech.test")
    build_report(tmp_path / "results", tmp_path / "out")
    row = pd.read_csv(tmp_path / "out" / "table1_test.csv").loc[0]
    assert row["FLAC max"].startswith("**2.00") and "failed" not in row["FLAC max"]
    # with no complete setting at all, the partial one fills the cell, marked
    store = ResultStore(tmp_path / "only")
    store.write(partial, "speech.test")
    build_report(tmp_path / "only", tmp_path / "out2")
    assert "(1 failed)" in pd.read_csv(tmp_path / "out2" / "table1_test.csv").loc[0, "FLAC max"]


def test_analysis_types_no_method_id() -> None:
    import ast
    import re

    from trilobyte.core.methods import methods

    ids = "|".join(re.escape(name) for name in methods())
    pattern = re.compile(rf"(?<![\w.-])({ids}|nac-)(?![\w.-])", re.IGNORECASE)
    found = []
    for path in sorted((ROOT / "analysis").glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and pattern.search(node.value)):
                found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "method ids typed in analysis/: " + "; ".join(found)


def test_appendix_b_figures_from_nac_and_flac_frame_results(tmp_path: Path) -> None:
    from baselines import residuals
    from baselines.flac.registration import make_frames

    store = ResultStore(tmp_path / "results")
    rng = np.random.default_rng(0)
    store.write(flac_result("music", 5, 2.0), "music.test")
    frames = make_frames(8)
    for method, config, name, ratio, scale, report in (
            ("flac-frames", flac(8), "level8", 2.1, 20, report_fields(frames)),
            ("nac-custom-dac", {"codebooks": 3}, "q3", 1.3, 900, None)):
        r = fake_result("music", method, config, name, ratio, report=report)
        r.extra["residual_histogram"] = residuals.histogram(rng.laplace(0, scale, 5000).round().astype(int))
        store.write(r, "music.test")
    out = tmp_path / "out"
    report = build_report(tmp_path / "results", out).read_text()
    assert "Figure 3: Custom DAC + Rice vs FLAC -5, per-file rates" in report
    assert "Figure 4: absolute residuals" in report
    assert (out / "figures" / "figure3_per_file_test.png").stat().st_size > 5_000
    assert (out / "figures" / "figure4_residuals_test.png").stat().st_size > 5_000
    assert "flac-frames" not in pd.read_csv(out / "table1_test.csv").columns
    others = pd.read_csv(out / "table1_other_codecs_test.csv")
    assert list(others.columns)[4:] == ["Custom DAC + Rice"]


def test_figure5_shows_each_model_and_mapping_beside_flac(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    store.write(flac_result("speech", 8, 1.6), "speech.test")
    for mapping, ratio in (("ascii7", 1.8), ("bytes", 0.7)):
        r = fake_result("speech", "llm-incontext", {"model_label": "tiny-llama", "mapping": mapping}, mapping, ratio,
                        mode="ideal")
        if mapping == "ascii7":
            r.files.append(FileRate.failed("c@0", "TokenizerRoundTripError: bytes 0x04 do not survive"))
        store.write(r, "speech.test")
    out = tmp_path / "out"
    report = build_report(tmp_path / "results", out).read_text()
    assert "Figure 5: in-context LLM vs FLAC -8 (in-context LLM on sampled chunks, FLAC -8 on whole files)" in report
    assert (out / "figures" / "figure5_incontext_test.png").stat().st_size > 5_000
    table = pd.read_csv(out / "table1_test.csv").iloc[0]
    # the refusing mapping's rate covers only the chunks that survived: shown, never marked best
    assert table["In-context"].startswith("1.80") and "(1 failed)" in table["In-context"]
    assert table["FLAC"].startswith("**1.6")
    assert pd.read_csv(out / "table1_other_codecs_test.csv").loc[0, "In-context bytes"].startswith("0.70")


def test_bits_by_position_figure(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    r = fake_result("music", "trilobyte", model(), "m", 2.0, mode="ideal")
    r.extra["bits_per_byte_by_position"] = {"msb": 3.1, "lsb": 7.6}
    store.write(r, "music.test")
    report = build_report(tmp_path / "results", tmp_path / "out").read_text()
    assert "Bits per byte by position, MSB to LSB (test split)" in report
    assert (tmp_path / "out" / "figures" / "bits_by_position_test.png").exists()


def test_bits_by_position_leaves_out_sample_level_results(tmp_path: Path) -> None:
    from analysis import figures

    sample_only = pd.DataFrame([{"dataset": "speech", "split": "test", "column": "Standard", "config": "s",
                                 "position": "sample", "bits_per_byte": 4.7}])
    assert figures.bits_by_position(sample_only, tmp_path, "test") is None  # no empty panel for Standard
    both = pd.concat([sample_only, sample_only.assign(column="Trilobyte", position="msb")], ignore_index=True)
    assert figures.bits_by_position(both, tmp_path, "test").exists()
