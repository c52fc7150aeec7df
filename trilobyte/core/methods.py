"""Every compression method by name: register one, build one, list them.

A method is a :class:`Method` named by an entry point in the group ``trilobyte_bench.methods``, the
toolkit's own methods exactly as a plug-in's, e.g. in a plug-in's ``pyproject.toml``::

    [project.entry-points."trilobyte_bench.methods"]
    shorten = "trilobyte_shorten:METHOD"

with, in ``trilobyte_shorten/__init__.py``::

    METHOD = Method("shorten", "trilobyte_shorten.coder:make_shorten", "classical",
                    label="Shorten (fixed poly + Rice)", requires=("numba",), command="python -m trilobyte_shorten")

Then ``get_method("shorten", block_size=1024).estimate_rate(get_dataset("demo-speech", split="test"))``.
The registry itself (and what results declare for the report) is :mod:`trilobyte.core.registry`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trilobyte.core.registry import (
    ENTRY_POINT_GROUP,
    FAMILIES,
    Column,
    Method,
    MethodError,
    MethodUnavailable,
    find,
    load_entry_points,
    methods,
    register,
)
from trilobyte.core.table import Col, format_table

__all__ = [
    "ENTRY_POINT_GROUP", "FAMILIES", "Column", "Method", "MethodError", "MethodStatus", "MethodUnavailable",
    "as_estimator", "available", "build", "find", "format_list", "get_method", "load_entry_points", "methods",
    "register",
]


def build(method: Method, **settings: Any) -> Any:
    """The method's estimator with these settings (a ``RateEstimator``); refused when it cannot run here."""
    missing = method.missing()
    if missing:
        raise MethodUnavailable(f"{method.name} cannot run here: it needs {'; '.join(missing)}")
    return as_estimator(method.load_factory()(**settings))


def get_method(name: str, **settings: Any) -> Any:
    """Build a registered method's estimator: ``get_method("flac", level=8).estimate_rate(dataset)``."""
    return build(find(name), **settings)


class PerFileEstimator:
    """A per-file coder (``code_file``) as a ``RateEstimator``: the shared runner over a temporary store."""

    def __init__(self, coder: Any) -> None:
        self.coder = coder
        self.name = coder.name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.coder, attribute)

    def estimate_rate(self, dataset: Any) -> Any:
        from trilobyte.core.runner import estimate_with_runner

        return estimate_with_runner(self.coder, dataset)


def as_estimator(obj: Any) -> Any:
    """An object with ``estimate_rate``: itself, or a per-file coder wrapped in the shared runner."""
    if callable(getattr(obj, "estimate_rate", None)):
        return obj
    if callable(getattr(obj, "code_file", None)):
        return PerFileEstimator(obj)
    raise MethodError(f"{type(obj).__name__} has neither estimate_rate(dataset) nor code_file(clip)")


@dataclass(frozen=True)
class MethodStatus:
    """A registered method and whether it can run here."""

    method: Method
    missing: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.missing


def available() -> list[MethodStatus]:
    """Every registered method, with what it misses here (nothing: it can run)."""
    return [MethodStatus(m, tuple(m.missing())) for m in methods().values()]


LIST_COLUMNS = (
    Col("method", lambda s: s.method.name),
    Col("family", lambda s: s.method.family),
    Col("label", lambda s: s.method.label),
    Col("here", lambda s: "ready" if s.ready else "cannot run"),
    Col("command", lambda s: s.method.command),
)


def format_list(statuses: Iterable[MethodStatus] | None = None) -> str:
    """The ``--list`` table: name, family, report label, whether it runs here, and what runs it."""
    rows = list(available() if statuses is None else statuses)
    notes = [f"{s.method.name}: needs {'; '.join(s.missing)}" for s in rows if not s.ready]
    return format_table(rows, LIST_COLUMNS) + ("\n\n" + "\n".join(notes) if notes else "")
