"""How FLAC's results show in the report: their Table 1 columns and labels, from their settings."""

from __future__ import annotations

from typing import Any


def flac_report(config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Table 1 columns and label of a FLAC configuration (its settings as saved in a result's config).

    Stock ``flac -8`` is the paper's FLAC column and competes for FLAC max; any other setting, FLAC max.
    """
    disabled = sorted(config.get("disable_subframes") or ())
    stock8 = (config.get("level") == 8 and not disabled and not config.get("exhaustive_model_search")
              and config.get("max_lpc_order") is None and config.get("blocksize") is None)
    words = [f"FLAC -{config.get('level')}"] + (["-e"] if config.get("exhaustive_model_search") else [])
    if config.get("max_lpc_order") is not None:
        words.append(f"-l {config['max_lpc_order']}")
    if config.get("blocksize") is not None:
        words.append(f"-b {config['blocksize']}")
    if disabled:
        words.append("(no " + "/".join(disabled) + " subframes)")
    return ("FLAC", "FLAC max") if stock8 else ("FLAC max",), " ".join(words)


def frames_report(config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """FLAC's frames read back: the same bits as FLAC, re-read for their residuals, so not a Table 1 cell."""
    return (), f"FLAC -{config.get('level')} frames read back"
