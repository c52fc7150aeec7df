"""The classical codecs' registrations: each command-line codec and each general-purpose compressor."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from baselines.classical.codecs import COMMAND_CODECS
from baselines.classical.commands import CodecUnavailable, CommandCodec, command_report, load_toml, make_coder
from baselines.classical.general import COMPRESSORS, GeneralCoder, compressor_report
from trilobyte.core.methods import Method


def make_command_coder(codec: CommandCodec, preset: str | None = None, binary: str | None = None,
                       decoder_binary: str | None = None, timeout: float | None = None) -> Any:
    """One preset of a command-line codec (its programs found on PATH, or given; ``timeout``: each file's
    seconds for encode and decode, default max(60, 20 x its duration))."""
    return make_coder(codec, preset, binary, decoder_binary, timeout)


def make_compressor(name: str, preset: str | None = None, timeout: float | None = None) -> Any:
    return GeneralCoder.create(name, preset, timeout)


def _probe(build: Callable[[], Any]) -> Callable[[], str | None]:
    """Whether the codec's programs (or backend) are here: None, or why not."""
    def probe() -> str | None:
        try:
            build()
        except CodecUnavailable as err:
            return str(err)
        return None

    return probe


def command_codec_method(codec: CommandCodec, order: int = 200) -> Method:
    """A command-line codec as a registered method (its presets are the factory's ``preset``)."""
    return Method(codec.name, partial(make_command_coder, codec), "classical", codec.title, order,
                  description=codec.description, command=f"python -m baselines.classical --codec {codec.name}",
                  probe=_probe(partial(make_coder, codec)), saved_report=partial(command_report, codec))


def toml_method(path: Path | str, order: int = 300) -> Method:
    """A codec described by a TOML file as a registered method: what a plug-in package's entry point names."""
    return command_codec_method(load_toml(path), order)


METHODS = (
    *(command_codec_method(codec, 100 + i) for i, codec in enumerate(COMMAND_CODECS.values())),
    *(Method(spec.name, partial(make_compressor, spec.name), "general-purpose", spec.title, 500 + i,
             description=spec.description, command=f"python -m baselines.classical --codec {spec.name}",
             probe=_probe(partial(make_compressor, spec.name)), saved_report=compressor_report)
      for i, spec in enumerate(COMPRESSORS.values())),
)
