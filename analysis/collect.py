"""Read saved results into tables: one row per (dataset, method, configuration) result."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trilobyte.protocol import RateResult
from trilobyte.results import ResultStore

# Table 1's columns, in the paper's order; any other method gets a column of its own after these.
PAPER_COLUMNS = ("FLAC", "FLAC max", "In-context", "Standard", "Trilobyte", "Transfer")


def table_column(result: RateResult) -> str:
    """Which Table 1 column a result belongs to.

    A method may name its column in ``extra["column"]``; stock ``flac -8`` is "FLAC"; every other FLAC
    configuration competes for "FLAC max" (the best FLAC setting per dataset).
    """
    if result.extra.get("column"):
        return str(result.extra["column"])
    if result.method == "trilobyte":
        tokenizer = result.config.get("tokenizer") or {}
        if tokenizer.get("scheme") == "sample":
            return "Standard"
        # the paper's Transfer model: one model over several datasets, or trained with low-byte masking
        if len(result.config.get("trained_on") or []) > 1 or tokenizer.get("depth_dropout"):
            return "Transfer"
        return "Trilobyte"
    if result.method == "flac-frames":
        return ""  # FLAC's own frames re-read for their residuals: the same bits as FLAC, not a method of its own
    if result.method == "flac-cli":
        return "FLAC max"  # the flac command line at its strongest settings (-8ep, --lax -l 32 ...)
    if result.method == "flac":
        c = result.config
        stock8 = (c.get("level") == 8 and not c.get("disable_subframes") and not c.get("exhaustive_model_search")
                  and c.get("max_lpc_order") is None and c.get("blocksize") is None)
        return "FLAC" if stock8 else "FLAC max"
    return result.method


def result_row(path: Path, result: RateResult) -> dict:
    ok = result.ok_files
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
        "column": table_column(result),
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
    return frame, {str(path): result for path, result in found}


NAC_PREFIX = "nac-"


def position_bits(results: dict[str, RateResult]) -> pd.DataFrame:
    """Bits per byte at each byte position (MSB, middle, LSB) of every result that stores them."""
    rows = []
    for r in results.values():
        for position, bits in (r.extra.get("bits_per_byte_by_position") or {}).items():
            rows.append({"dataset": r.dataset, "split": r.split, "column": table_column(r), "config": r.config_name,
                         "position": position, "bits_per_byte": bits})
    return pd.DataFrame(rows)


def residual_histograms(results: dict[str, RateResult]) -> pd.DataFrame:
    """Saved absolute-residual histograms (FLAC's frames and each neural codec): one row per bin."""
    rows = []
    for r in results.values():
        hist = r.extra.get("residual_histogram")
        if not hist or not hist.get("counts"):
            continue
        label = "FLAC" if r.method in ("flac-frames", "flac") else r.method
        if r.method.startswith(NAC_PREFIX):
            label = f"{r.method} ({r.config.get('codebooks', '?')} codebooks)"
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
        for f in r.ok_files:
            rows.append({"dataset": r.dataset, "method": r.method, "config": r.config_name,
                         "codebooks": f"q{r.config['codebooks']}" if "codebooks" in r.config else "",
                         "column": table_column(r), "id": f.id, "rate": f.rate, "raw_bits": f.raw_bits})
    return pd.DataFrame(rows)
