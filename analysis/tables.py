"""Table 1 (datasets x methods: the paper's columns, then the other codecs), its missing cells, and its
Markdown / CSV / LaTeX forms. Columns, their order and how to fill an empty cell come from what the
results and the registered methods declare (:mod:`trilobyte.core.registry`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.collect import paper_columns

IDEAL_MARK = "†"  # an ideal (estimated) rate; unmarked cells are coded and verified
TRAINED_MARK = " (trained on these clips)"  # a model evaluated on clips it was trained on
LEAD_COLUMNS = ("Bits", "Hz / ch", "Domain", "Dataset")


@dataclass
class Table1:
    """Table 1 of one split: the paper's columns, the other codecs, and the empty cells' commands."""

    paper: pd.DataFrame
    others: pd.DataFrame
    missing: list[dict] = field(default_factory=list)


def _prefer(frame: pd.DataFrame, good: pd.Series, keys: list[str]) -> pd.DataFrame:
    """Within each cell, keep only the ``good`` rows where the cell has any; all of them otherwise."""
    has_good = good.groupby([frame[k] for k in keys]).transform("any")
    return frame[good | ~has_good]


def best_per_cell(frame: pd.DataFrame) -> pd.DataFrame:
    """One result per (split, dataset, column): the highest rate among the results that compete for it.

    A result competes for its own column and for the columns it also declares (stock FLAC -8: FLAC max).
    A model evaluated on clips it was trained on fills a cell only when no clean result does, and a result
    with failed files (rated on the files it managed) only when no complete one does.
    """
    ok = frame[frame["rate"].notna() & (frame["column"] != "")].assign(own_column=lambda f: f["column"])
    also = [row.to_dict() | {"column": column} for _, row in ok.iterrows() for column in row["also_columns"] or ()]
    ok = pd.concat([ok, pd.DataFrame(also, columns=ok.columns)], ignore_index=True)
    keys = ["split", "dataset", "column"]
    ok = _prefer(ok, ~ok["trained_on_evaluated"].fillna(False).astype(bool), keys)
    ok = _prefer(ok, ok["failed_files"].fillna(0) == 0, keys)
    if ok.empty:
        return ok
    index = ok.groupby(keys)["rate"].idxmax()
    return ok.loc[index.values]


def column_order(cells: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The paper's columns (as registered, in order) and the other columns present (by declared order)."""
    paper = [c.label for c in paper_columns()]
    declared = cells[cells["paper"].astype(bool) & ~cells["column"].isin(paper)]
    paper += _ordered(declared)
    others = _ordered(cells[~cells["column"].isin(paper)])
    return paper, others


def _ordered(cells: pd.DataFrame) -> list[str]:
    if cells.empty:
        return []
    order = cells.groupby("column")["order"].min()
    return sorted(order.index, key=lambda c: (order[c], c))


def table1(frame: pd.DataFrame, split: str) -> Table1:
    """Table 1 for one split: a row per dataset (grouped by bit depth), a column per method.

    Cells are text (rate, interval, marks); the paper's columns come first, the other codecs in a second
    table; every empty paper cell is listed with the command that fills it.
    """
    cells = best_per_cell(frame[frame["split"] == split])
    if cells.empty:
        return Table1(pd.DataFrame(), pd.DataFrame())
    paper, others = column_order(cells)
    declared = {c.label: c for c in paper_columns()}
    datasets = (cells.groupby("dataset")
                .agg(depth=("depth_bits", "first"), rates=("sample_rates", "first"), ch=("channels", "first"),
                     domain=("domain", "first"))
                .reset_index())
    datasets["depth_key"] = datasets["depth"].fillna(99)
    datasets = datasets.sort_values(["depth_key", "domain", "dataset"])
    paper_rows, other_rows, missing = [], [], []
    for _, d in datasets.iterrows():
        here = cells[cells["dataset"] == d["dataset"]].drop_duplicates("column").set_index("column")
        # a cell with failed files (e.g. refused chunks) rates only what survived: it is never the row's best
        # nor is a model evaluated on clips it was trained on
        complete = here[(here["failed_files"].fillna(0) == 0) & ~here["trained_on_evaluated"].fillna(False)]
        best = complete["rate"].max() if not complete.empty else None
        lead = {"Bits": "native" if pd.isna(d["depth"]) else int(d["depth"]),
                "Hz / ch": f"{d['rates']} / {d['ch']}", "Domain": d["domain"], "Dataset": d["dataset"]}
        depth = None if pd.isna(d["depth"]) else int(d["depth"])
        row = dict(lead)
        for column in paper:
            if column in here.index:
                row[column] = format_cell(here.loc[column], best)
                continue
            spec = declared.get(column)
            impossible = spec is not None and depth in spec.impossible_depths
            same = spec.same_as.get(depth) if spec is not None and depth is not None else None
            row[column] = "✗" if impossible else f"= {same}" if same else "—"
            if spec is not None and spec.fill and not impossible and not same:
                command = spec.fill.format(dataset=d["dataset"], split=split)
                missing.append({"split": split, "dataset": d["dataset"], "column": column, "command": command})
        paper_rows.append(row)
        if others and here.index.isin(others).any():
            other_rows.append(lead | {c: format_cell(here.loc[c], best) if c in here.index else "—" for c in others})
    return Table1(pd.DataFrame(paper_rows), pd.DataFrame(other_rows), missing)


def column_notes(table: pd.DataFrame) -> list[str]:
    """The notes the registered columns of ``table`` declare (e.g. where two columns are one model)."""
    return [c.note for c in paper_columns() if c.note and c.label in table.columns]


def format_cell(cell: pd.Series, best: float | None) -> str:
    text = f"{cell['rate']:.2f}"
    if pd.notna(cell.get("ci_low")):
        text += f" [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}]"
    if cell["mode"] == "ideal":
        text += IDEAL_MARK
    if cell.get("failed_files"):
        text += f" ({int(cell['failed_files'])} failed)"
    if cell.get("trained_on_evaluated"):
        text += TRAINED_MARK
    return f"**{text}**" if cell["rate"] == best else text


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs LaTeX tabular; bold cells become \\textbf."""
    def tex(value: object) -> str:
        text = str(value).replace("_", r"\_").replace("%", r"\%")
        if text.startswith("**") and text.endswith("**"):
            text = r"\textbf{" + text[2:-2] + "}"
        return text.replace("—", "--").replace("✗", r"$\times$").replace(IDEAL_MARK, r"$^\dagger$")

    header = " & ".join(tex(c) for c in table.columns) + r" \\"
    body = [" & ".join(tex(v) for v in row) + r" \\" for row in table.itertuples(index=False)]
    spec = "l" * len(table.columns)
    return "\n".join([rf"\begin{{tabular}}{{{spec}}}", r"\toprule", header, r"\midrule", *body, r"\bottomrule",
                      r"\end{tabular}"]) + "\n"


def to_markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(table.columns) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"
