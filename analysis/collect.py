"""Read saved results into tables: one row per (dataset, method, configuration) result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from trilobyte.core import registry
from trilobyte.core.protocol import RateResult
from trilobyte.core.results import ResultStore


def report_of(result: RateResult) -> dict[str, Any]:
    """What a result declares for the report; results saved before they declared it read their registration."""
    return result.report or registry.declared_report(result.method, result.config, result.config_name)


def table_column(result: RateResult) -> str:
    """The Table 1 column a result fills, as it declares it ("" : not a Table 1 cell)."""
    return str(report_of(result).get("column") or "")


def paper_columns() -> list[registry.Column]:
    """The main Table 1 columns in order, as the registered methods declare them."""
    return registry.paper_columns()


def tagged_columns(tag: str) -> list[str]:
    """Labels of the registered columns that declare a figure tag (e.g. "correlation"), in column order."""
    return [c.label for c in registry.columns() if tag in c.figures]


def reference_column() -> str | None:
    """The column of the method drawn beside the others ("reference": FLAC -8 in Figures 3 and 5)."""
    for method in registry.methods().values():
        if "reference" in method.figures and method.columns:
            return method.columns[0].label
    return None


def result_row(path: Path, result: RateResult) -> dict:
    ok = result.ok_files
    report = report_of(result)
    rates = sorted({f.sample_rate for f in ok if f.sample_rate})
    channels = sorted({f.channels for f in ok if f.channels})
    interval = result.rate_interval
    return {
        "dataset": result.dataset,
        "split": result.split,
        "bit_depth": result.bit_depth,
        "depth_bits": _depth_bits(result),
        "conversion": result.conversion,
        "domain": result.domain,
        "sample_rates": ",".join(f"{r / 1000:g}k" for r in rates),
        "channels": ",".join(str(c) for c in channels),
        "method": result.method,
        "config": result.config_name,
        "column": str(report.get("column") or ""),
        "also_columns": tuple(report.get("also_columns") or ()),
        "label": report.get("label") or result.config_name,
        "method_label": report.get("method_label") or result.method,
        "family": report.get("family") or "other",
        "paper": bool(report.get("paper")),
        "figures": tuple(report.get("figures") or ()),
        "mode": result.mode,
        "rate": result.rate,
        "rate_with_container": result.rate_with_container,
        "mean_file_rate": result.mean_file_rate,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "files": len(result.files),
        "failed_files": len(result.failures),
        "trained_on_evaluated": bool(result.extra.get("trained_on_evaluated_clips")),
        "xrealtime": result.xrealtime,
        "level": result.config.get("level"),
        "subframes_disabled": bool(result.config.get("disable_subframes")),
        "model_parameters": result.model_parameters,
        "model_label": result.config.get("model_label") or result.config.get("model"),
        "mapping": result.config.get("mapping"),
        "path": str(path),
    }


def column_order(frame: pd.DataFrame) -> list[int]:
    """Each row's place in the report's column order (:func:`trilobyte.core.registry.report_order`), a rank."""
    pairs = list(zip(frame["method"], frame["family"], strict=True))
    keys = {pair: registry.report_order(*pair) for pair in set(pairs)}
    rank = {pair: i for i, pair in enumerate(sorted(keys, key=lambda pair: (keys[pair], pair)))}
    return [rank[pair] for pair in pairs]


def _depth_bits(result: RateResult) -> int | None:
    if result.bit_depth != "native":
        return int(result.bit_depth)
    depths = {f.bit_depth for f in result.ok_files if f.bit_depth}
    return depths.pop() if len(depths) == 1 else None


def load_results(results_dir: Path | str) -> tuple[pd.DataFrame, dict[str, RateResult]]:
    """All finished results under a folder: a summary frame, and the results by their path."""
    store = ResultStore(results_dir)
    found = store.all_results()
    rows = [result_row(path, result) for path, result in found]
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["order"] = column_order(frame)
    return frame, {str(path): result for path, result in found}


def position_bits(results: dict[str, RateResult]) -> pd.DataFrame:
    """Bits per byte at each byte position (MSB, middle, LSB) of every result that stores them."""
    rows = []
    for r in results.values():
        for position, bits in (r.extra.get("bits_per_byte_by_position") or {}).items():
            rows.append({"dataset": r.dataset, "split": r.split, "column": table_column(r), "config": r.config_name,
                         "position": position, "bits_per_byte": bits})
    return pd.DataFrame(rows)


def residual_histograms(results: dict[str, RateResult]) -> pd.DataFrame:
    """Saved absolute-residual histograms (e.g. FLAC's frames, each neural codec): one row per bin, by label."""
    rows = []
    for r in results.values():
        hist = r.extra.get("residual_histogram")
        if not hist or not hist.get("counts"):
            continue
        label = report_of(r).get("label") or r.method
        total = sum(hist["counts"])
        edges = hist["edges"]
        for i, count in enumerate(hist["counts"]):
            width = edges[i + 1] - edges[i]
            rows.append({"dataset": r.dataset, "split": r.split, "method": label, "low": edges[i], "width": width,
                         "fraction": count / total, "density": count / total / width})
    return pd.DataFrame(rows)


def file_rows(results: dict[str, RateResult], paths: list[str]) -> pd.DataFrame:
    """Per-file rows of the given results (for box plots and histograms)."""
    rows = []
    for path in paths:
        r = results[path]
        report = report_of(r)
        for f in r.ok_files:
            rows.append({"dataset": r.dataset, "method": r.method, "config": r.config_name,
                         "column": report.get("column") or "", "label": report.get("label") or r.config_name,
                         "id": f.id, "rate": f.rate, "raw_bits": f.raw_bits})
    return pd.DataFrame(rows)
