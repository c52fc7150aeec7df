"""The report's figures, drawn with seaborn from saved results (PNG for the page, PDF for papers)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def method_palette(columns: list[str], fixed: Sequence[str] = ()) -> dict[str, tuple]:
    """One colour per column label, the same in every figure of a report.

    The ``fixed`` labels (the paper's columns, in order) keep their colours whatever else is present; the
    others follow in the order given.
    """
    others = [c for c in dict.fromkeys(columns) if c not in fixed]
    count = len(fixed) + len(others)
    colours = sns.color_palette("tab20" if count <= 20 else "husl", n_colors=max(count, 20) if count <= 20 else count)
    palette = {m: colours[i] for i, m in enumerate(fixed)}
    palette.update({m: colours[len(fixed) + i] for i, m in enumerate(others)})
    return {m: palette[m] for m in columns}


def save(fig: plt.Figure, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=130, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.pdf", bbox_inches="tight")
    plt.close(fig)
    return png


def distinct_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Table 1's cells without those a result fills only as a column it also competes for (FLAC max = stock -8)."""
    secondary = cells["column"] != cells["own_column"]
    return cells[~(secondary & cells["path"].isin(set(cells.loc[~secondary, "path"])))]


def slug(text: str) -> str:
    """A label as a file-name part: "In-context" -> "in_context", "DAC + Rice" -> "dac_rice"."""
    return re.sub(r"\W+", "_", text.lower()).strip("_")


def figure2_levels(frame: pd.DataFrame, out_dir: Path, split: str) -> Path | None:
    """Rate against level 0-8 per dataset, one panel per bit depth, stock vs subframes disabled.

    Drawn from results of methods declaring the "levels" figure (their configs carry ``level``).
    """
    tagged = frame["figures"].map(lambda tags: "levels" in tags)
    levels = frame[tagged & (frame["split"] == split) & frame["level"].notna()].copy()
    plain = levels["config"].str.fullmatch(r"level\d(_no-constant-fixed-verbatim)?")
    levels = levels[plain]
    if levels.empty:
        return None
    name = " / ".join(sorted(set(levels["method_label"])))
    levels["depth"] = levels["depth_bits"].map(lambda d: "mixed" if pd.isna(d) else f"{int(d)}-bit")
    levels[name] = levels["subframes_disabled"].map({False: "stock", True: "constant/fixed/verbatim disabled"})
    depths = sorted(levels["depth"].unique(), key=lambda d: (len(d), d))
    grid = sns.relplot(data=levels, x="level", y="rate", hue="dataset", style=name, col="depth", col_order=depths,
                       kind="line", markers=True, dashes=True, height=3.6, aspect=1.1,
                       facet_kws={"sharey": False})
    grid.set_axis_labels(f"{name} compression level", "compression rate (×)")
    grid.set_titles("{col_name} audio")
    for ax in grid.axes.flat:
        ax.set_xticks(range(9))
    grid.figure.suptitle(f"Figure 2: {name} rate by level ({split} split)", y=1.03)
    return save(grid.figure, out_dir, f"figure2_{slug(name)}_levels_{split}")


def correlation_scatter(pairs: pd.DataFrame, x_label: str, y_label: str, caption: str, out_dir: Path,
                        name: str) -> Path:
    """One point per dataset: method X's rate against method Y's, with the diagonal y = x."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    sns.scatterplot(data=pairs, x="x", y="y", ax=ax, s=50)
    for _, p in pairs.iterrows():
        ax.annotate(p["dataset"], (p["x"], p["y"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    low = min(pairs["x"].min(), pairs["y"].min()) * 0.95
    high = max(pairs["x"].max(), pairs["y"].max()) * 1.05
    ax.plot([low, high], [low, high], color="grey", lw=0.8, ls=":")
    ax.set_xlabel(f"{x_label} rate (×)")
    ax.set_ylabel(f"{y_label} rate (×)")
    ax.set_title(caption, fontsize=8)
    return save(fig, out_dir, name)


def rate_by_depth(cells: pd.DataFrame, out_dir: Path, split: str, palette: dict[str, tuple]) -> Path | None:
    """Rate against evaluated bit depth, one line per method, for sources evaluated at several depths."""
    data = distinct_cells(cells)
    data = data[data["depth_bits"].notna()].copy()
    data["source"] = data["dataset"].str.replace(r"-(mulaw|linear|native)(8|16|24)$", "", regex=True)
    depths_per_source = data.groupby("source")["depth_bits"].nunique()
    data = data[data["source"].isin(depths_per_source[depths_per_source > 1].index)]
    if data.empty:
        return None
    # one line per conversion path: the native point starts every path that leads down from it
    native = data[~data["dataset"].str.contains(r"-(?:mulaw|linear)\d+$", regex=True)]
    converted = data.drop(native.index)
    paths = [converted] + [native.assign(conversion=c) for c in sorted(set(converted["conversion"]))]
    data = pd.concat(paths, ignore_index=True)
    grid = sns.relplot(data=data, x="depth_bits", y="rate", hue="column", style="conversion", col="source",
                       kind="line", markers=True, palette=palette, height=3.2, aspect=1.0,
                       facet_kws={"sharey": False})
    grid.set_axis_labels("bit depth", "compression rate (×)")
    for ax in grid.axes.flat:
        ax.set_xticks(sorted(data["depth_bits"].unique()))
    grid.figure.suptitle(f"Rate against bit depth ({split} split)", y=1.04)
    return save(grid.figure, out_dir, f"rate_by_depth_{split}")


def speed_vs_rate(cells: pd.DataFrame, out_dir: Path, split: str, palette: dict[str, tuple]) -> Path | None:
    """Each Table 1 cell: × realtime (one worker) against rate, coloured by method."""
    data = distinct_cells(cells)
    data = data[data["xrealtime"].notna()]
    if data.empty:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.scatterplot(data=data, x="xrealtime", y="rate", hue="column", style="dataset", palette=palette, ax=ax)
    ax.set_xscale("log")
    ax.set_xlabel("speed (× realtime, one worker, encode + decode or scoring)")
    ax.set_ylabel("compression rate (×)")
    ax.set_title(f"Speed against rate ({split} split)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return save(fig, out_dir, f"speed_vs_rate_{split}")


def figure3_boxes(files: pd.DataFrame, out_dir: Path, split: str, palette: dict[str, tuple], title: str) -> Path | None:
    """Per-file rates of each configuration (``label``) beside the reference, one panel per dataset."""
    if files.empty:
        return None
    grid = sns.catplot(data=files, x="label", y="rate", col="dataset", kind="box", hue="label", palette=palette,
                       height=3.6, aspect=1.2, sharey=False, legend=False)
    grid.set_axis_labels("", "per-file compression rate (×)")
    for ax in grid.axes.flat:
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.tick_params(axis="x", rotation=20)
    grid.figure.suptitle(f"Figure 3: {title}, per file ({split} split)", y=1.04)
    return save(grid.figure, out_dir, f"figure3_per_file_{split}")


def figure4_residuals(hists: pd.DataFrame, out_dir: Path, split: str) -> Path | None:
    """Histograms of absolute residuals (share of residuals per unit of |r|), one line per method; zero shown."""
    hists = hists[hists["fraction"] > 0]
    if hists.empty:
        return None
    grid = sns.relplot(data=hists, x="low", y="density", hue="method", col="dataset", kind="line",
                       drawstyle="steps-post", height=3.6, aspect=1.3, facet_kws={"sharey": False})
    for ax in grid.axes.flat:
        ax.set_xscale("symlog", linthresh=1)  # linear near zero, so the |r| = 0 bin is visible
        ax.set_yscale("log")
        ax.set_xlim(0, 2 * hists["low"].max())
    grid.set_axis_labels("|residual| (integer steps)", "share of residuals per unit of |r|")
    grid.figure.suptitle(f"Figure 4: absolute residuals per method ({split} split)", y=1.04)
    return save(grid.figure, out_dir, f"figure4_residuals_{split}")


def figure5_incontext(rates: pd.DataFrame, out_dir: Path, split: str, title: str) -> Path | None:
    """In-context rates per dataset, one bar per model and mapping, beside the reference on the same split."""
    if rates.empty:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * rates["dataset"].nunique() + 3), 4))
    sns.barplot(data=rates, x="dataset", y="rate", hue="label", errorbar=None, ax=ax)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("")
    ax.set_ylabel("compression rate (×)")
    ax.set_title(f"Figure 5: {title} ({split} split)", fontsize=9)
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.tick_params(axis="x", rotation=15)
    return save(fig, out_dir, f"figure5_incontext_{split}")


def bits_by_position(rows: pd.DataFrame, out_dir: Path, split: str) -> Path | None:
    """Bits per byte at each byte position (MSB first) per dataset: where the incompressible bits live."""
    positions = ("msb", "mid", "lsb")
    if not rows.empty:
        rows = rows[rows["position"].isin(positions)]  # sample-level results have no byte positions
    if rows.empty:
        return None
    order = [p for p in positions if p in set(rows["position"])]
    grid = sns.catplot(data=rows, x="position", y="bits_per_byte", hue="dataset", col="column", kind="bar",
                       order=order, errorbar=None, height=3.4, aspect=1.1)
    for ax in grid.axes.flat:
        ax.axhline(8.0, color="grey", lw=0.8, ls=":")  # 8 bits: an incompressible byte
    grid.set_axis_labels("byte position in the sample", "bits per byte")
    grid.figure.suptitle(f"Bits per byte by position ({split} split)", y=1.04)
    return save(grid.figure, out_dir, f"bits_by_position_{split}")
