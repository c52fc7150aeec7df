"""FLAC's registrations: the libFLAC sweep (Table 1's FLAC and FLAC max) and its frames read back."""

from __future__ import annotations

from typing import Any

from trilobyte.core.methods import Column, Method

_WHERE = "--dataset {dataset} --split {split}"


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


def make_frames(level: int = 8, disable_subframes: tuple[str, ...] = ()) -> Any:
    """libFLAC's frames read back by this toolkit's own decoder (residuals, Rice plans, histogram)."""
    from baselines.flac.codec import FlacSettings
    from baselines.flac.frames import FlacFramesCoder

    return FlacFramesCoder(FlacSettings(level, frozenset(disable_subframes)))


METHODS = (
    Method(
        "flac", "baselines.flac.coder:make_flac", "classical", "FLAC", 0, requires=("pyflac",),
        description="libFLAC in process, levels 0-8, stock or with subframe types disabled",
        command="python -m baselines.flac_sweep",
        columns=(
            Column("FLAC", 0, paper=True,
                   fill=f"python -m baselines.flac_sweep {_WHERE} --levels 8 --disable-subframes none"),
            Column("FLAC max", 10, paper=True, fill=f"python -m baselines.flac_sweep {_WHERE}"),
        ),
        figures=("levels", "reference"), saved_report=flac_report,
    ),
    Method(
        "flac-frames", make_frames, "classical", "FLAC frames", 900, requires=("pyflac", "numba"),
        description="libFLAC's frames read back: residuals, Rice plans, bit budget (not a Table 1 cell)",
        command="python -m baselines.flac_frames", figures=("residuals",),
        saved_report=frames_report,
    ),
)
