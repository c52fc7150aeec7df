"""FLAC's registrations: the libFLAC sweep (Table 1's FLAC and FLAC max) and its frames read back."""

from __future__ import annotations

from typing import Any

from baselines.flac.report import flac_report, frames_report
from trilobyte.core.methods import Column, Method

_WHERE = "--dataset {dataset} --split {split}"


def make_frames(level: int = 8, disable_subframes: tuple[str, ...] = ()) -> Any:
    """libFLAC's frames read back by this toolkit's own decoder (residuals, Rice plans, histogram)."""
    from baselines.flac.codec import FlacSettings
    from baselines.flac.frames import FlacFramesCoder

    return FlacFramesCoder(FlacSettings(level, frozenset(disable_subframes)))


METHODS = (
    Method(
        "flac", "baselines.flac.coder:make_flac", "classical", "FLAC", requires=("pyflac",),
        command="python -m baselines.flac_sweep",
        columns=(
            Column("FLAC", paper=True,
                   fill=f"python -m baselines.flac_sweep {_WHERE} --levels 8 --disable-subframes none"),
            Column("FLAC max", paper=True, fill=f"python -m baselines.flac_sweep {_WHERE}"),
        ),
        figures=("levels", "reference"), report=flac_report,
    ),
    # libFLAC's frames read back: residuals, Rice plans, bit budget (not a Table 1 cell)
    Method("flac-frames", make_frames, "classical", "FLAC frames", requires=("pyflac", "numba"),
           command="python -m baselines.flac_frames", figures=("residuals",), report=frames_report),
)
