"""Cross-dataset statistics: how one method's rates track another's (the paper's FLAC vs Trilobyte r)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

BOOTSTRAP_SAMPLES = 5000


@dataclass(frozen=True)
class Correlation:
    """Pearson and Spearman correlation of paired rates, with a bootstrap 95% interval for Pearson's r."""

    n: int
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float
    pearson_ci95: tuple[float, float] | None

    def describe(self) -> str:
        ci = f", 95% CI [{self.pearson_ci95[0]:.2f}, {self.pearson_ci95[1]:.2f}]" if self.pearson_ci95 else ""
        return (f"Pearson r = {self.pearson_r:.3f} (p = {self.pearson_p:.3g}{ci}); "
                f"Spearman ρ = {self.spearman_rho:.3f} (p = {self.spearman_p:.3g}); n = {self.n} datasets")


def correlate(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Correlation:
    """Correlation of two methods' rates over datasets; the interval resamples datasets (needs n >= 4)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"need at least 3 paired rates, got {len(x)}")
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    interval = None
    if len(x) >= 4:
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(BOOTSTRAP_SAMPLES):
            idx = rng.integers(0, len(x), len(x))
            if np.ptp(x[idx]) > 0 and np.ptp(y[idx]) > 0:
                draws.append(np.corrcoef(x[idx], y[idx])[0, 1])
        low, high = np.percentile(draws, [2.5, 97.5])
        interval = (float(low), float(high))
    return Correlation(len(x), float(pearson.statistic), float(pearson.pvalue), float(spearman.statistic),
                       float(spearman.pvalue), interval)


def paired_rates(cells: pd.DataFrame, column_x: str, column_y: str, depth: int | None = None) -> pd.DataFrame:
    """Datasets that have both columns (optionally at one bit depth): dataset, x, y."""
    if depth is not None:
        cells = cells[cells["depth_bits"] == depth]
    wide = cells.pivot_table(index="dataset", columns="column", values="rate", aggfunc="max")
    if column_x not in wide or column_y not in wide:
        return pd.DataFrame(columns=["dataset", "x", "y"])
    both = wide[[column_x, column_y]].dropna()
    return pd.DataFrame({"dataset": both.index, "x": both[column_x].to_numpy(), "y": both[column_y].to_numpy()})
