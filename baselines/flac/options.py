"""FLAC settings given as text on a command line: levels and disabled subframe types."""

from __future__ import annotations

import argparse
import logging

from baselines.flac.codec import LEVELS, SUBFRAME_TYPES

log = logging.getLogger("trilobyte.flac")

def parse_levels(text: str) -> list[int]:
    """``"0-8"``, ``"8"`` or ``"0,3,5-8"``."""
    levels: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        try:
            span = range(int(low), int(high or low) + 1)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"levels look like 0-8 or 0,5,8, not {text!r}") from err
        levels.update(span)
    if not levels or not levels <= set(LEVELS):
        raise argparse.ArgumentTypeError(f"FLAC levels are 0 to 8, not {text!r}")
    return sorted(levels)


def parse_subframes(text: str) -> frozenset[str]:
    if text == "none":
        return frozenset()
    kinds = frozenset(t.strip() for t in text.split(",") if t.strip())
    if not kinds <= set(SUBFRAME_TYPES):
        raise argparse.ArgumentTypeError(
            f"subframe types are {','.join(SUBFRAME_TYPES)} (or none), not {text!r}"
        )
    return kinds


