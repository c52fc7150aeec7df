"""Table 1 (datasets x methods), its missing cells, and its Markdown / CSV / LaTeX forms."""

from __future__ import annotations

import pandas as pd

from analysis.collect import PAPER_COLUMNS

IDEAL_MARK = "†"  # an ideal (estimated) rate; unmarked cells are coded and verified
TRAINED_MARK = " (trained on these clips)"  # a model evaluated on clips it was trained on


def fill_command(column: str, dataset: str, split: str, depth: int | None) -> str | None:
    """The command that fills an empty Table 1 cell, or None where the cell cannot exist."""
    where = f"--dataset {dataset} --split {split}"
    if column == "FLAC":
        return f"python -m baselines.flac_sweep {where} --levels 8 --disable-subframes none"
    if column == "FLAC max":
        return f"python -m baselines.flac_sweep {where}"
    if column == "In-context":
        return f"python -m baselines.llm_incontext {where}"
    if column == "Standard":
        if depth == 24:
            return None  # a 2^24-token vocabulary: the paper's ✗
        return (f"python -m trilobyte.train --dataset {dataset} --scheme sample --out models/{dataset}-sample"
                f" && python -m trilobyte.estimate --model models/{dataset}-sample {where}")
    if column == "Trilobyte":
        return (f"python -m trilobyte.train --dataset {dataset} --out models/{dataset}"
                f" && python -m trilobyte.estimate --model models/{dataset} {where}")
    if column == "Transfer":
        return f"python -m trilobyte.estimate --model models/transfer {where}"
    return None


def best_per_cell(frame: pd.DataFrame) -> pd.DataFrame:
    """One result per (split, dataset, column): the highest rate (e.g. FLAC max = best FLAC setting)."""
    ok = frame[frame["rate"].notna() & (frame["column"] != "")]
    # FLAC max is the best of every FLAC setting, stock -8 included
    also_max = ok[ok["column"] == "FLAC"].assign(column="FLAC max")
    ok = pd.concat([ok, also_max], ignore_index=True)
    # a model evaluated on clips it was trained on fills a cell only when no clean result does
    trained = ok["trained_on_evaluated"].fillna(False).astype(bool)
    has_clean = (~trained).groupby([ok["split"], ok["dataset"], ok["column"]]).transform("any")
    ok = ok[~trained | ~has_clean]
    index = ok.groupby(["split", "dataset", "column"])["rate"].idxmax()
    return ok.loc[index.values]


def table1(frame: pd.DataFrame, split: str) -> tuple[pd.DataFrame, list[dict]]:
    """Table 1 for one split: a row per dataset (grouped by bit depth), a column per method.

    Returns the table (cells as text: rate, interval, marks) and the empty cells with their commands.
    """
    cells = best_per_cell(frame[frame["split"] == split])
    if cells.empty:
        return pd.DataFrame(), []
    others = sorted(set(cells["column"]) - set(PAPER_COLUMNS))
    columns = [*PAPER_COLUMNS, *others]
    datasets = (cells.groupby("dataset")
                .agg(depth=("depth_bits", "first"), rates=("sample_rates", "first"), ch=("channels", "first"),
                     domain=("domain", "first"))
                .reset_index())
    datasets["depth_key"] = datasets["depth"].fillna(99)
    datasets = datasets.sort_values(["depth_key", "domain", "dataset"])
    rows, missing = [], []
    for _, d in datasets.iterrows():
        here = cells[cells["dataset"] == d["dataset"]].set_index("column")
        # a cell with failed files (e.g. refused chunks) rates only what survived: it is never the row's best
        # nor is a model evaluated on clips it was trained on
        complete = here[(here["failed_files"].fillna(0) == 0) & ~here["trained_on_evaluated"].fillna(False)]
        best = complete["rate"].max() if not complete.empty else None
        row = {"Bits": "native" if pd.isna(d["depth"]) else int(d["depth"]), "Hz / ch": f"{d['rates']} / {d['ch']}",
               "Domain": d["domain"], "Dataset": d["dataset"]}
        for column in columns:
            if column in here.index:
                row[column] = format_cell(here.loc[column], best)
                continue
            depth = None if pd.isna(d["depth"]) else int(d["depth"])
            command = fill_command(column, d["dataset"], split, depth)
            row[column] = "✗" if column == "Standard" and depth == 24 else "—"
            if command:
                missing.append({"split": split, "dataset": d["dataset"], "column": column, "command": command})
        rows.append(row)
    table = pd.DataFrame(rows)
    empty = [c for c in others if (table[c] == "—").all()]
    return table.drop(columns=empty), missing


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
