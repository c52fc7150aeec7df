"""The plain-text tables every command prints: rows, and a list of column specs.

    format_table(results, [Col("dataset", where), Col("rate", lambda r: r.rate, ".3f")])

A column with a number format is right-aligned (``None`` prints ``-``); text is left-aligned. Each column
is as wide as its widest cell, two spaces apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Col:
    """A column: its title, the cell of a row (``cell(row)``), and a format for numbers (e.g. ``".3f"``)."""

    title: str
    cell: Callable[[Any], Any]
    fmt: str = ""
    right: bool | None = None  # default: right-aligned when ``fmt`` is given

    def text(self, row: Any) -> str:
        value = self.cell(row)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return format(value, self.fmt) if self.fmt and not isinstance(value, str) else str(value)


def format_table(rows: Iterable[Any], columns: Sequence[Col]) -> str:
    """The rows under a header line, one column per spec."""
    cells = [[c.title for c in columns], *([c.text(row) for c in columns] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    right = [c.right if c.right is not None else bool(c.fmt) for c in columns]
    lines = ["  ".join(text.rjust(w) if r else text.ljust(w) for text, w, r in zip(line, widths, right, strict=True))
             for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def where(result: Any) -> str:
    """A result's dataset, with its split unless it is the whole dataset."""
    return result.dataset + ("" if result.split == "all" else f" [{result.split}]")


def failed(result: Any) -> int | None:
    """How many of a result's files failed (``None``, printed ``-``, when none)."""
    return len(result.failures) or None
