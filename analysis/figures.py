"""The report's figures, drawn with seaborn from saved results (PNG for the page, PDF for papers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

METHOD_ORDER = ("FLAC", "FLAC max", "In-context", "Standard", "Trilobyte", "Transfer")


def method_palette(methods: list[str]) -> dict[str, tuple]:
    """One colour per method, the same in every figure of a report."""
    ordered = [m for m in METHOD_ORDER if m in methods] + sorted(set(methods) - set(METHOD_ORDER))
    colours = sns.color_palette("tab10", n_colors=max(10, len(ordered)))
    fixed = {m: colours[i] for i, m in enumerate(METHOD_ORDER)}
    spare = iter(colours[len(METHOD_ORDER):] + colours)
    return {m: fixed.get(m) or next(spare) for m in ordered}


def save(fig: plt.Figure, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=130, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.pdf", bbox_inches="tight")
    plt.close(fig)
    return png


def figure2_flac_levels(frame: pd.DataFrame, out_dir: Path, split: str) -> Path | None:
    """FLAC rate against level 0-8 per dataset, one panel per bit depth, stock vs subframes disabled."""
    flac = frame[(frame["method"] == "flac") & (frame["split"] == split) & frame["level"].notna()].copy()
    plain = flac["config"].str.fullmatch(r"level\d(_no-constant-fixed-verbatim)?")
    flac = flac[plain]
    if flac.empty:
        return None
    flac["depth"] = flac["depth_bits"].map(lambda d: "mixed" if pd.isna(d) else f"{int(d)}-bit")
    flac["FLAC"] = flac["subframes_disabled"].map({False: "stock", True: "constant/fixed/verbatim disabled"})
    depths = sorted(flac["depth"].unique(), key=lambda d: (len(d), d))
    grid = sns.relplot(data=flac, x="level", y="rate", hue="dataset", style="FLAC", col="depth", col_order=depths,
                       kind="line", markers=True, dashes=True, height=3.6, aspect=1.1,
                       facet_kws={"sharey": False})
    grid.set_axis_labels("FLAC compression level", "compression rate (×)")
    grid.set_titles("{col_name} audio")
    for ax in grid.axes.flat:
        ax.set_xticks(range(9))
    grid.figure.suptitle(f"Figure 2: FLAC rate by level ({split} split)", y=1.03)
    return save(grid.figure, out_dir, f"figure2_flac_levels_{split}")
