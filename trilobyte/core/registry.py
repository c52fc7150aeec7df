"""The method registry: each method by name, how to build it, and what its results declare for the report.

Every method, the toolkit's own included, registers through the entry-point group ``trilobyte_bench.methods``:
an entry point names a :class:`Method` or a sequence of them. The registry is ordered by family
(:data:`FAMILIES`), then by registration (this toolkit's entry points first, then each plug-in's); that order
is the report's column order. Nothing here imports a method: factories given as ``"module:callable"`` are
imported only when a method is built (:func:`trilobyte.core.methods.get_method`).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("trilobyte.core.registry")
ENTRY_POINT_GROUP = "trilobyte_bench.methods"
DISTRIBUTION = "trilobyte-bench"
# The report's order: simple codecs first, learned models last (Table 1 reads FLAC, In-context, Trilobyte...).
FAMILIES = ("classical", "general-purpose", "neural codec", "in-context LLM", "learned", "other")
Report = Callable[[dict[str, Any]], tuple[tuple[str, ...], str]]


class MethodError(LookupError):
    """A method that is not registered, or a registration that is not valid."""


class MethodUnavailable(MethodError):
    """A registered method whose requirements are missing here."""


@dataclass(frozen=True)
class Column:
    """A Table 1 column a method declares: in the main table (``paper``), how to fill an empty cell (``fill``,
    with ``{dataset}`` and ``{split}``), depths where the cell cannot exist (✗), and figures it is drawn in.

    ``same_as`` maps a depth to the column whose model this column's model is at that depth (its empty cells
    there read "= that column" and are not missing: one model, trained and rated once); ``note`` is a
    sentence for Table 1's note when the column is shown.
    """

    label: str
    paper: bool = False
    fill: str | None = None
    impossible_depths: tuple[int, ...] = ()
    figures: tuple[str, ...] = ()
    same_as: dict[int, str] = field(default_factory=dict, hash=False)
    note: str = ""


@dataclass(frozen=True)
class Method:
    """A registered method.

    ``name`` is the ``method`` of its results; ``factory`` (a callable or ``"module:callable"``) takes the
    method's settings and returns an estimator (``estimate_rate``) or a per-file coder (``code_file``);
    ``family`` places it in the report; ``label`` is its Table 1 column (default: the name). ``requires``
    lists modules to import, or checks (callables giving ``None`` or what is missing); ``command`` is what
    runs it from a shell. The report extras: ``columns`` it declares (the main table's, or several),
    ``figures`` its results are drawn in, and ``report(config) -> (columns, label)`` for saved results that
    carry no report fields.
    """

    name: str
    factory: str | Callable[..., Any]
    family: str = "other"
    label: str = ""
    requires: tuple[str | Callable[[], str | None], ...] = ()
    command: str = ""
    columns: tuple[Column, ...] = ()
    figures: tuple[str, ...] = ()
    report: Report | None = field(default=None, compare=False)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise MethodError(f"a method needs a name, not {self.name!r}")
        if self.family not in FAMILIES:
            raise MethodError(f"{self.name}: family must be one of {', '.join(FAMILIES)}, not {self.family!r}")
        if isinstance(self.factory, str) and ":" not in self.factory:
            raise MethodError(f"{self.name}: a factory string looks like 'package.module:callable'")
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def missing(self) -> list[str]:
        """What this machine lacks for the method: modules that cannot be imported, or the checks' reasons."""
        missing = [need for need in self.requires if isinstance(need, str) and importlib.util.find_spec(need) is None]
        if not missing:
            missing = [reason for check in self.requires if callable(check) and (reason := check())]
        return missing

    def load_factory(self) -> Callable[..., Any]:
        """The factory itself (imported here when given as a string)."""
        if callable(self.factory):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as err:
            raise MethodError(f"{self.name}: cannot load its factory {self.factory} ({err})") from err

    def column(self, label: str) -> Column:
        """The declared column of that label, or a plain one."""
        return next((c for c in self.columns if c.label == label), Column(label))

    def all_columns(self) -> tuple[Column, ...]:
        """The declared columns, and the method's own label when not among them."""
        own = () if any(c.label == self.label for c in self.columns) else (Column(self.label),)
        return (*self.columns, *own)


_REGISTRY: dict[str, Method] = {}
_LOADED = {"entry_points": False}


def register(method: Method, replace: bool = False) -> Method:
    """Add a method to the registry (a second method of the same name is an error unless ``replace``)."""
    if not isinstance(method, Method):
        raise MethodError(f"only Method objects can be registered, not {type(method).__name__}")
    old = _REGISTRY.get(method.name)
    if old is not None and not replace and old != method:
        raise MethodError(f"two methods are named {method.name!r} ({old.source}; {method.source})")
    _REGISTRY[method.name] = method
    return method


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The group's entry points: this toolkit's first, then each plug-in's, by distribution and name."""
    def key(entry: importlib.metadata.EntryPoint) -> tuple[bool, str, str]:
        dist = re.sub(r"[-_.]+", "-", entry.dist.name if entry.dist is not None else "").lower()
        return dist != DISTRIBUTION, dist, entry.name

    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=key)


def methods_of(entry: importlib.metadata.EntryPoint) -> list[Method]:
    """The methods an entry point names (a Method or a sequence of them), marked with their source."""
    source = f"entry point {entry.name} = {entry.value}"
    loaded = entry.load()
    found = [loaded] if isinstance(loaded, Method) else list(loaded)
    for method in found:
        if not isinstance(method, Method):
            raise MethodError(f"{source} holds a {type(method).__name__}, not a Method")
    return [dataclasses.replace(method, source=source) for method in found]


def load_entry_points() -> list[str]:
    """Register every method the installed packages declare; returns the problems found (also logged)."""
    problems: list[str] = []
    for entry in entry_points():
        try:
            for method in methods_of(entry):
                register(method)
        except Exception as err:  # a broken plug-in must not hide the other methods; it is reported
            problems.append(f"entry point {entry.name} = {entry.value}: {type(err).__name__}: {err}")
            log.error("cannot register methods from entry point %s: %s", entry.name, err)
    return problems


def family_rank(family: str) -> int:
    """A family's place in the report (an unknown one goes last)."""
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def methods() -> dict[str, Method]:
    """Every registered method by name, by family then registration (entry points are read on first use)."""
    if not _LOADED["entry_points"]:
        _LOADED["entry_points"] = True
        load_entry_points()
    position = {name: i for i, name in enumerate(_REGISTRY)}
    return dict(sorted(_REGISTRY.items(), key=lambda item: (family_rank(item[1].family), position[item[0]])))


def find(name: str) -> Method:
    """The registered method of that name (a clear error naming the known ones otherwise)."""
    known = methods()
    if name not in known:
        raise MethodError(f"no method named {name!r}; registered: {', '.join(known)}")
    return known[name]


def columns() -> list[Column]:
    """Every registered column, in the report's order (each label once)."""
    found: dict[str, Column] = {}
    for method in methods().values():
        for column in method.all_columns():
            found.setdefault(column.label, column)
    return list(found.values())


def paper_columns() -> list[Column]:
    """The main Table 1 columns in order, as the registered methods declare them."""
    return [c for c in columns() if c.paper]


def report_fields(estimator: Any) -> dict[str, Any]:
    """What a result declares for the report: its Table 1 column(s), readable label and family.

    An estimator may say which columns its result fills (``report_columns()``: the first is its own,
    the others cells it also competes for; empty: not a Table 1 cell) and give a readable label of its
    configuration (``report_label()``); otherwise the registered method's label is both.
    """
    method = _registered_or_own(estimator.name, getattr(estimator, "family", "other"))
    hook = getattr(estimator, "report_columns", None)
    declared = tuple(hook()) if callable(hook) else (method.label,)
    hook = getattr(estimator, "report_label", None)
    label = hook() if callable(hook) else f"{method.label} {estimator.config_name()}"
    return _fields(method, declared, label)


def declared_report(method_name: str, config: dict[str, Any], config_name: str = "") -> dict[str, Any]:
    """The report fields of a saved result that carries none (written before results declared them).

    Read from the registered method: its ``report(config)`` gives the columns and label that its estimator
    would have declared; otherwise the method's own label is its column. A method no longer registered is a
    column of its own under its name.
    """
    method = _registered_or_own(method_name, "other")
    if method.report is not None:
        declared, label = method.report(config)
    else:
        declared, label = (method.label,), f"{method.label} {config_name}".strip()
    return _fields(method, tuple(declared), label)


def _registered_or_own(name: str, family: str) -> Method:
    method = methods().get(name)
    if method is None:  # e.g. a codec described by a TOML file given on the command line
        family = family if family in FAMILIES else "other"
        method = Method(name, "unregistered:none", family, source="not registered")
    return method


def _fields(method: Method, declared: tuple[str, ...], label: str) -> dict[str, Any]:
    first = method.column(declared[0]) if declared else None
    return {
        "column": declared[0] if declared else "",
        "also_columns": list(declared[1:]),
        "label": label,
        "method_label": method.label,
        "family": method.family,
        "paper": bool(first and first.paper),
        "figures": list(method.figures),
    }


def report_order(method_name: str, family: str = "other") -> tuple[int, int, int]:
    """Where a method's columns go in the report: the methods of the main table first (their other columns
    lead the other codecs' table), then by family and registration; an unregistered one after its family's."""
    known = list(methods().values())
    position = next((i for i, m in enumerate(known) if m.name == method_name), len(known))
    if position == len(known):
        return 1, family_rank(family), position
    method = known[position]
    return (0 if any(c.paper for c in method.columns) else 1), family_rank(method.family), position
