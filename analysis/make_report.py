"""``python analysis/make_report.py [--results DIR] [--out DIR]``: the paper's tables and figures from saved results.

It reads results only: it never re-runs a method and never imports torch. Whatever has not been run
stays empty, and the report lists each empty cell with the command that fills it.
"""

from __future__ import annotations

import argparse
import base64
import html
import logging
import sys
from pathlib import Path

import pandas as pd

from analysis import collect, figures, stats, tables
from trilobyte.core.results import atomic_write_text

log = logging.getLogger(__name__)
SPLIT_ORDER = ("test", "valid", "train", "all")


def build_report(results_dir: Path, out_dir: Path) -> Path:
    """Write REPORT.md, report.html, Table 1 files and figures under ``out_dir``; return REPORT.md's path."""
    frame, results = collect.load_results(results_dir)
    if frame.empty:
        raise SystemExit(f"no results under {results_dir}: run a method first (for example `make demo`)")
    out_dir.mkdir(parents=True, exist_ok=True)
    fig_dir = out_dir / "figures"
    splits = [s for s in SPLIT_ORDER if s in set(frame["split"])]
    sections: list[tuple[str, str]] = []  # (markdown, html) pairs
    missing: list[dict] = []

    for split in splits:
        table1 = tables.table1(frame, split)
        missing += table1.missing
        if table1.paper.empty:
            continue
        note = ("Bold: best in the row (over both tables) among cells with no failed files and no model evaluated"
                " on clips it was trained on (marked so). Cells: ratio of sums over files"
                " [bootstrap 95% interval over files; over clips for chunked methods];"
                f" {tables.IDEAL_MARK} marks ideal (estimated) rates, all others were coded, decoded and compared"
                " bit-exactly. — : not run yet (see Missing results); ✗ : not possible.")
        parts = [(f"table1_{split}", f"Table 1: compression rate (×), {split} split", table1.paper),
                 (f"table1_other_codecs_{split}", f"Other codecs: compression rate (×), {split} split", table1.others)]
        for name, title, table in parts:
            if table.empty:
                continue
            stem = out_dir / name
            table.to_csv(stem.with_name(stem.name + ".csv"), index=False)
            atomic_write_text(stem.with_name(stem.name + ".tex"), tables.to_latex(table))
            markdown = tables.to_markdown(table)
            atomic_write_text(stem.with_name(stem.name + ".md"), markdown)
            noted = " ".join([note, *tables.column_notes(table)])
            sections.append((f"## {title}\n\n{markdown}\n{noted}\n", _html_table(title, table, noted)))

    for split in splits:
        png = figures.figure2_levels(frame, fig_dir, split)
        if png:
            sections.append(_figure_section(f"Figure 2: rate by level, stock vs subframes disabled ({split} split)",
                                            png, out_dir))

    paper = [c.label for c in collect.paper_columns()]
    present = frame[frame["column"] != ""].sort_values(["order", "column"])
    palette = figures.method_palette(list(dict.fromkeys([*paper, *present["column"]])), paper)
    hists = collect.residual_histograms(results)
    for split in splits:
        sections += _residual_sections(frame, results, hists, split, fig_dir, out_dir, palette)
        rates, title = _incontext_rates(frame, split)
        png = figures.figure5_incontext(rates, fig_dir, split, title)
        if png:
            sections.append(_figure_section(f"Figure 5: {title}, rates per dataset and model ({split} split)",
                                            png, out_dir))
    for split in splits:
        cells = tables.best_per_cell(frame[frame["split"] == split])
        sections += _correlation_sections(cells, split, fig_dir, out_dir)
        png = figures.rate_by_depth(cells, fig_dir, split, palette)
        if png:
            sections.append(_figure_section(f"Rate against bit depth per method ({split} split)", png, out_dir))
        positions = collect.position_bits(results)
        png = figures.bits_by_position(positions[positions["split"] == split] if not positions.empty else positions,
                                       fig_dir, split)
        if png:
            sections.append(_figure_section(f"Bits per byte by position, MSB to LSB ({split} split)", png, out_dir))
        png = figures.speed_vs_rate(cells, fig_dir, split, palette)
        if png:
            sections.append(_figure_section(f"Speed against rate ({split} split)", png, out_dir))

    sections.append(_missing_section(missing))
    report = out_dir / "REPORT.md"
    header = (f"# trilobyte-bench report\n\nResults read from `{results_dir}`: {len(frame)} results,"
              f" {frame['dataset'].nunique()} datasets, {frame['method'].nunique()} methods.\n")
    atomic_write_text(report, header + "\n" + "\n".join(md for md, _ in sections))
    page = _html_page(header, [h for _, h in sections])
    atomic_write_text(out_dir / "report.html", page)
    listed = {c: frame[c].map(";".join) for c in ("also_columns", "figures")}
    frame.drop(columns=["path"]).assign(**listed).to_csv(out_dir / "all_results.csv", index=False)
    return report


def _tagged(frame: pd.DataFrame, tag: str) -> pd.Series:
    """Which results come from methods declaring that figure tag."""
    return frame["figures"].map(lambda tags: tag in tags)


def _reference(here: pd.DataFrame, datasets: set[str], level: int | None = None) -> pd.DataFrame:
    """The reference method's results on these datasets: its stock setting at ``level``, or its own column."""
    reference = here[_tagged(here, "reference") & here["dataset"].isin(datasets)]
    if level is not None:
        return reference[(reference["level"] == level) & (reference["config"] == f"level{level}")]
    return reference[reference["column"] == collect.reference_column()]


def _residual_sections(frame: pd.DataFrame, results: dict, hists: pd.DataFrame, split: str, fig_dir: Path,
                       out_dir: Path, palette: dict) -> list[tuple[str, str]]:
    """Figures 3 and 4 (Appendix B): per-file rates of the residual coders beside the reference, and the
    residual histograms."""
    here = frame[frame["split"] == split]
    coders = here[_tagged(here, "residuals") & (here["column"] != "")]
    sections: list[tuple[str, str]] = []
    if not coders.empty:
        datasets = set(coders["dataset"])
        reference = _reference(here, datasets, level=5)  # the paper's Appendix B compares with FLAC -5
        if reference.empty:
            reference = _reference(here, datasets)
        own = collect.file_rows(results, list(coders["path"]))
        palette = {**palette, **figures.method_palette(sorted(set(own["label"])))}
        labels = sorted(set(reference["label"]))
        palette |= {label: palette.get(collect.reference_column(), (0.5, 0.5, 0.5)) for label in labels}
        title = f"{', '.join(sorted(set(coders['method_label'])))} vs {' / '.join(labels) or 'no reference'}"
        files = pd.concat([own, collect.file_rows(results, list(reference["path"]))], ignore_index=True)
        png = figures.figure3_boxes(files, fig_dir, split, palette, title)
        if png:
            sections.append(_figure_section(f"Figure 3: {title}, per-file rates ({split} split)", png, out_dir))
    if not hists.empty:
        png = figures.figure4_residuals(hists[hists["split"] == split], fig_dir, split)
        if png:
            sections.append(_figure_section(f"Figure 4: absolute residuals per method ({split} split)", png, out_dir))
    return sections


def _incontext_rates(frame: pd.DataFrame, split: str) -> tuple[pd.DataFrame, str]:
    """Each in-context result (model and mapping) and the reference on the same datasets; the figure's title."""
    here = frame[frame["split"] == split]
    llm = here[_tagged(here, "in-context") & here["rate"].notna()]
    if llm.empty:
        return pd.DataFrame(), ""
    pairs = zip(llm["failed_files"], llm["files"], strict=True)
    refused = [f", {int(f)} of {int(n)} chunks refused" if f else "" for f, n in pairs]
    llm = llm.assign(label=llm["model_label"].astype(str) + " (" + llm["mapping"].astype(str) + ", "
                     + llm["mode"] + pd.Series(refused, index=llm.index) + ")")
    reference = _reference(here, set(llm["dataset"]))
    families = " / ".join(sorted(set(llm["family"])))
    names = " / ".join(sorted(set(reference["label"])))
    title = f"{families} vs {names} ({families} on sampled chunks, {names} on whole files)" if names else families
    return pd.concat([llm, reference], ignore_index=True)[["dataset", "label", "rate"]], title


def _correlation_sections(cells: pd.DataFrame, split: str, fig_dir: Path, out_dir: Path) -> list[tuple[str, str]]:
    """The reference column against each column declaring "correlation" over the 16-bit datasets (the paper's
    FLAC vs Trilobyte), where both exist. The paper's own (first) column always gets a section; the others,
    e.g. the Transfer model, once they have results."""
    sections = []
    reference = collect.reference_column()
    correlated = collect.tagged_columns("correlation")
    if reference is None:
        return sections
    for column in correlated:
        pairs = stats.paired_rates(cells, reference, column, depth=16)
        if column != correlated[0] and pairs.empty:
            continue
        title = f"Correlation: {reference} vs {column} over 16-bit datasets ({split} split)"
        if len(pairs) < 3:
            text = (f"{len(pairs)} 16-bit dataset(s) have both {reference} and {column} rates;"
                    " a correlation needs 3 or more.")
            sections.append((f"## {title}\n\n{text}\n", f"<h2>{html.escape(title)}</h2><p>{html.escape(text)}</p>"))
            continue
        result = stats.correlate(pairs["x"].to_numpy(), pairs["y"].to_numpy())
        png = figures.correlation_scatter(pairs, reference, column, result.describe(), fig_dir,
                                          f"correlation_{figures.slug(reference)}_{figures.slug(column)}_{split}")
        md, page = _figure_section(title, png, out_dir)
        sections.append((md + f"\n{result.describe()}\n", page + f"<p>{html.escape(result.describe())}</p>"))
    return sections


def _figure_section(title: str, png: Path, out_dir: Path) -> tuple[str, str]:
    rel = png.relative_to(out_dir).as_posix()
    pdf = rel.removesuffix(".png") + ".pdf"
    data = base64.b64encode(png.read_bytes()).decode()
    md = f"## {title}\n\n![{title}]({rel})\n\n[PDF]({pdf})\n"
    page = f"<h2>{html.escape(title)}</h2>\n<img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>\n"
    return md, page


def _missing_section(missing: list[dict]) -> tuple[str, str]:
    if not missing:
        text = "## Missing results\n\nNone: every cell of Table 1 is filled.\n"
        return text, "<h2>Missing results</h2><p>None: every cell of Table 1 is filled.</p>"
    lines = ["## Missing results", "", "Each empty cell, and the command that fills it:", ""]
    lines += [f"- {m['split']} / {m['dataset']} / {m['column']}: `{m['command']}`" for m in missing]
    items = "".join(
        f"<li>{html.escape(m['split'])} / {html.escape(m['dataset'])} / {html.escape(m['column'])}:"
        f" <code>{html.escape(m['command'])}</code></li>" for m in missing
    )
    page = f"<h2>Missing results</h2><p>Each empty cell, and the command that fills it:</p><ul>{items}</ul>"
    return "\n".join(lines) + "\n", page


def _html_table(title: str, table: pd.DataFrame, note: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    rows = []
    for row in table.itertuples(index=False):
        cells = []
        for value in row:
            text = str(value)
            bold = text.startswith("**") and text.endswith("**")
            text = html.escape(text.strip("*"))
            cells.append(f"<td><b>{text}</b></td>" if bold else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<h2>{html.escape(title)}</h2>\n<div class='wide'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>\n<p class='note'>{html.escape(note)}</p>\n")


def _html_page(header_md: str, sections: list[str]) -> str:
    intro = html.escape(header_md.splitlines()[2] if len(header_md.splitlines()) > 2 else "")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:4px 8px}"
             "th{background:#f0f0f0}img{max-width:100%}.note{color:#555;font-size:0.85em}"
             ".wide{overflow-x:auto}")
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>trilobyte-bench report</title>"
            f"<style>{style}</style></head><body><h1>trilobyte-bench report</h1><p>{intro}</p>\n{body}</body></html>\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python analysis/make_report.py", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("reports/results"), help="results folder")
    parser.add_argument("--out", type=Path, default=Path("reports/demo"), help="report folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = build_report(args.results, args.out)
    log.info("report written to %s (and report.html beside it)", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
