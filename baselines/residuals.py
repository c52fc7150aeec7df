"""Histograms of absolute residuals with one fixed binning, so FLAC's and every codec's can be compared.

The bins are half-open ``[edges[i], edges[i + 1])`` over absolute values: one bin per integer from 0
to 15, then four bins per octave (16, 20, 24, 28, 32, 40, 48, 56, 64, ...) up to 2**32, which holds
any residual of 32-bit audio. A histogram is stored as ``{"edges": [...], "counts": [...],
"count": n, "sum_abs": s, "max_abs": m}``; per file, only the counts up to the last non-zero bin are
kept (:func:`compact`), and :func:`merge` adds files' histograms into a dataset's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

_FINE = 16  # single-integer bins: 0 .. 15


def _edges() -> np.ndarray:
    edges = list(range(_FINE))
    octave = 4
    while (1 << octave) < (1 << 32):
        base = 1 << octave
        edges += [base, base + base // 4, base + base // 2, base + 3 * base // 4]
        octave += 1
    edges.append(1 << 32)
    return np.array(edges, dtype=np.int64)


EDGES = _edges()
BINS = EDGES.size - 1


def histogram(residual: np.ndarray) -> dict[str, Any]:
    """The fixed-bin histogram of ``|residual|`` (any integer array), with count, sum and maximum."""
    a = np.abs(np.asarray(residual, dtype=np.int64).ravel())
    if a.size and a.max() >= EDGES[-1]:
        raise ValueError(f"residuals beyond +-2**32 do not fit the histogram (max |r| = {int(a.max())})")
    index = np.searchsorted(EDGES, a, side="right") - 1
    counts = np.bincount(index, minlength=BINS)[:BINS]
    return {
        "edges": EDGES.tolist(),
        "counts": counts.astype(np.int64).tolist(),
        "count": int(a.size),
        "sum_abs": int(a.sum()),
        "max_abs": int(a.max()) if a.size else 0,
    }


def compact(hist: Mapping[str, Any]) -> dict[str, Any]:
    """A histogram without its edges and trailing empty bins (for per-file rows)."""
    counts = list(hist["counts"])
    while counts and counts[-1] == 0:
        counts.pop()
    return {"counts": counts, "count": hist["count"], "sum_abs": hist["sum_abs"], "max_abs": hist["max_abs"]}


def merge(hists: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum full or compact histograms; the result has the edges, the mean |residual| and every bin."""
    counts = np.zeros(BINS, dtype=np.int64)
    count = total = peak = 0
    for h in hists:
        c = np.asarray(h["counts"], dtype=np.int64)
        counts[: c.size] += c
        count += int(h["count"])
        total += int(h["sum_abs"])
        peak = max(peak, int(h["max_abs"]))
    return {
        "edges": EDGES.tolist(),
        "counts": counts.tolist(),
        "count": count,
        "sum_abs": total,
        "max_abs": peak,
        "mean_abs": total / count if count else None,
    }


def from_rows(rows: Iterable[Any], key: str = "residual_histogram") -> dict[str, Any] | None:
    """Merge the per-file histograms that file rows (``FileRate``) keep in ``extra[key]``."""
    found = [r.extra[key] for r in rows if getattr(r, "ok", True) and key in r.extra]
    return merge(found) if found else None
