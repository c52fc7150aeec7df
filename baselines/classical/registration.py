"""The classical codecs' registrations: each command-line codec and each general-purpose compressor."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from baselines.classical.codecs import COMMAND_CODECS
from baselines.classical.commands import CodecUnavailable, CommandCodec, command_report, make_coder
from baselines.classical.general import COMPRESSORS, GeneralCoder, compressor_report
from trilobyte.core.methods import Method


def make_command_coder(codec: CommandCodec, preset: str | None = None, binary: str | None = None,
                       decoder_binary: str | None = None, timeout: float | None = None) -> Any:
    """One preset of a command-line codec (its programs found on PATH, or given; ``timeout``: each file's
    seconds for encode and decode, default max(60, 20 x its duration))."""
    return make_coder(codec, preset, binary, decoder_binary, timeout)


def make_compressor(name: str, preset: str | None = None, timeout: float | None = None) -> Any:
    return GeneralCoder.create(name, preset, timeout)


def found(build: Callable[[], Any]) -> Callable[[], str | None]:
    """A requirement check: whether the codec's programs (or backend) are here: None, or why not."""
    def check() -> str | None:
        try:
            build()
        except CodecUnavailable as err:
            return str(err)
        return None

    return check


METHODS = (
    *(Method(codec.name, partial(make_command_coder, codec), "classical", codec.title,
             requires=(found(partial(make_coder, codec)),),
             command=f"python -m baselines.classical --codec {codec.name}", report=partial(command_report, codec))
      for codec in COMMAND_CODECS.values()),
    *(Method(spec.name, partial(make_compressor, spec.name), "general-purpose", spec.title,
             requires=(found(partial(make_compressor, spec.name)),),
             command=f"python -m baselines.classical --codec {spec.name}", report=compressor_report)
      for spec in COMPRESSORS.values()),
)
