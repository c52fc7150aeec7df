"""FLAC's registrations: the libFLAC sweep (Table 1's FLAC and FLAC max) and its frames read back."""

from __future__ import annotations

from typing import Any

from trilobyte.methods import Column, Method

_WHERE = "--dataset {dataset} --split {split}"


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
        figures=("levels", "reference"),
    ),
    Method(
        "flac-frames", make_frames, "classical", "FLAC frames", 900, requires=("pyflac", "numba"),
        description="libFLAC's frames read back: residuals, Rice plans, bit budget (not a Table 1 cell)",
        command="python -m baselines.flac_frames", figures=("residuals",),
    ),
)
