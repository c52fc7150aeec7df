"""The neural-codec baselines' registrations: DAC, EnCodec and the Custom DAC, each + a Rice-coded residual
(codes, reconstruction and residual, coded and verified: the paper's Appendix B)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from trilobyte.core.methods import Method

_REQUIRES = ("torch", "transformers", "numba", "safetensors")
_TITLES = {"dac": "DAC + Rice", "encodec": "EnCodec + Rice", "custom-dac": "Custom DAC + Rice"}


def make_nac(codec: str, weights: str | Path, codebooks: int | None = None, block_seconds: float | None = None,
             resample: bool = True, normalize: bool = True) -> Any:
    """One neural codec + Rice configuration (``weights``: a model folder or an original checkpoint)."""
    from baselines.nac.codec import DEFAULT_BLOCK_SECONDS
    from baselines.nac.coder import NacCoder, NacSettings

    settings = NacSettings(codec, str(Path(weights).expanduser().resolve()), codebooks,
                           block_seconds or DEFAULT_BLOCK_SECONDS, resample, normalize)
    return NacCoder(settings)


METHODS = tuple(
    Method(f"nac-{codec}", partial(make_nac, codec), "neural codec", title, requires=_REQUIRES,
           command=f"python -m baselines.nac --codec {codec} --weights PATH", figures=("residuals",))
    for codec, title in _TITLES.items()
)
