"""The method registry: every compression method by name, how to build it, and how the report shows it.

A :class:`Method` names a factory (settings -> a ``RateEstimator``), the method's family, its report
label and column order, the Table 1 columns it fills, and the optional modules it needs. The toolkit's
own methods and third-party ones register the same way, through the entry-point group
``trilobyte_bench.methods``: each entry point names a :class:`Method` or a sequence of them, e.g. in a
plug-in's ``pyproject.toml``::

    [project.entry-points."trilobyte_bench.methods"]
    shorten = "trilobyte_shorten:METHOD"

This module imports neither torch nor the baselines: factories given as ``"module:callable"`` strings are
imported only when a method is built.

    get_method("flac", level=8).estimate_rate(get_dataset("demo-music", split="test"))
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("trilobyte.core.methods")
ENTRY_POINT_GROUP = "trilobyte_bench.methods"
FAMILIES = ("classical", "general-purpose", "learned", "neural codec", "in-context LLM", "other")


class MethodError(LookupError):
    """A method that is not registered, or a registration that is not valid."""


class MethodUnavailable(MethodError):
    """A registered method whose optional dependencies are missing here."""


@dataclass(frozen=True)
class Column:
    """A column of the report's Table 1 that a method's results fill.

    ``fill`` is the command that fills an empty cell, with ``{dataset}`` and ``{split}`` in it;
    ``impossible_depths`` are depths at which the cell cannot exist (shown as ✗, e.g. a 2^24-way softmax);
    ``same_as`` maps a depth to the column whose model this column's model is at that depth (its empty
    cells there read "= that column" and are not missing: one model, trained and rated once); ``note`` is
    a sentence for Table 1's note when the column is shown; ``figures`` are the report's views of this
    column alone ("correlation": rated against the reference method's column over datasets).
    """

    label: str
    order: int
    paper: bool = False
    fill: str | None = None
    impossible_depths: tuple[int, ...] = ()
    figures: tuple[str, ...] = ()
    same_as: dict[int, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Method:
    """A registered method: its name (the ``method`` of its results), factory, family and report label."""

    name: str
    factory: str | Callable[..., Any]
    family: str
    label: str
    order: int
    requires: tuple[str, ...] = ()
    description: str = ""
    columns: tuple[Column, ...] = ()
    command: str | None = None
    figures: tuple[str, ...] = ()
    probe: Callable[[], str | None] | None = field(default=None, compare=False)
    saved_report: Callable[[dict[str, Any]], tuple[tuple[str, ...], str]] | None = field(default=None,
                                                                                         compare=False)
    source: str = field(default="built in", compare=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise MethodError(f"a method needs a name, not {self.name!r}")
        if self.family not in FAMILIES:
            raise MethodError(f"{self.name}: family must be one of {', '.join(FAMILIES)}, not {self.family!r}")
        if isinstance(self.factory, str) and ":" not in self.factory:
            raise MethodError(f"{self.name}: a factory string looks like 'package.module:callable'")

    def missing(self) -> list[str]:
        """What this machine lacks for the method: modules that cannot be imported, or the probe's reason."""
        missing = [name for name in self.requires if importlib.util.find_spec(name) is None]
        if not missing and self.probe is not None:
            reason = self.probe()
            if reason:
                missing.append(reason)
        return missing

    def load_factory(self) -> Callable[..., Any]:
        if callable(self.factory):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as err:
            raise MethodError(f"{self.name}: cannot load its factory {self.factory} ({err})") from err

    def create(self, **settings: Any) -> Any:
        """The method's estimator with these settings (a ``RateEstimator``)."""
        missing = self.missing()
        if missing:
            raise MethodUnavailable(f"{self.name} cannot run here: it needs {'; '.join(missing)}")
        return as_estimator(self.load_factory()(**settings))

    def column(self, label: str) -> Column:
        """The declared column of that label, or the method's own column."""
        for column in self.columns:
            if column.label == label:
                return column
        return Column(label, self.order)


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


def load_entry_points() -> list[str]:
    """Register every method the installed packages declare; returns the problems found (also logged)."""
    problems: list[str] = []
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {entry.name} = {entry.value}"
        try:
            loaded = entry.load()
            found = [loaded] if isinstance(loaded, Method) else list(loaded)
            for method in found:
                register(_with_source(method, source))
        except Exception as err:  # a broken plug-in must not hide the other methods; it is reported
            problems.append(f"{source}: {type(err).__name__}: {err}")
            log.error("cannot register methods from %s: %s", source, err)
    return problems


def _with_source(method: Method, source: str) -> Method:
    if not isinstance(method, Method):
        raise MethodError(f"{source} holds a {type(method).__name__}, not a Method")
    return Method(**{**method.__dict__, "source": source})


def methods() -> dict[str, Method]:
    """Every registered method by name (entry points are read on first use)."""
    if not _LOADED["entry_points"]:
        _LOADED["entry_points"] = True
        for method in BUILT_IN:
            register(method)
        load_entry_points()
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[1].order, item[0])))


def find(name: str) -> Method:
    """The registered method of that name (a clear error naming the known ones otherwise)."""
    known = methods()
    if name not in known:
        raise MethodError(f"no method named {name!r}; registered: {', '.join(known)}")
    return known[name]


def get_method(name: str, **settings: Any) -> Any:
    """Build a registered method's estimator: ``get_method("flac", level=8).estimate_rate(dataset)``."""
    return find(name).create(**settings)


@dataclass(frozen=True)
class MethodStatus:
    """A registered method and whether it can run here."""

    method: Method
    missing: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.missing


def available() -> list[MethodStatus]:
    """Every registered method, with the modules it misses here (none: it can run)."""
    return [MethodStatus(m, tuple(m.missing())) for m in methods().values()]


def format_list(statuses: Iterable[MethodStatus] | None = None) -> str:
    """The ``--list`` table: name, family, report label, whether it runs here, and what runs it."""
    rows = list(available() if statuses is None else statuses)
    lines = [f"{'method':<18}{'family':<17}{'label':<22}{'here':<13}command"]
    notes = []
    for s in rows:
        m = s.method
        lines.append(f"{m.name:<18}{m.family:<17}{m.label:<22}{'ready' if s.ready else 'cannot run':<13}"
                     f"{m.command or m.description}")
        if not s.ready:
            notes.append(f"{m.name}: needs {'; '.join(s.missing)}")
    return "\n".join(lines + ([""] if notes else []) + notes)


def paper_columns() -> list[Column]:
    """The paper's Table 1 columns in order, as the registered methods declare them."""
    columns = {c.label: c for m in methods().values() for c in m.columns if c.paper}
    return sorted(columns.values(), key=lambda c: (c.order, c.label))


def report_fields(estimator: Any) -> dict[str, Any]:
    """What a result declares for the report: its Table 1 column(s), readable label, family and order.

    An estimator may say which columns its result fills (``report_columns()``: the first is its own,
    the others cells it also competes for; empty: not a Table 1 cell) and give a readable label of its
    configuration (``report_label()``); otherwise the registered method's label is both.
    """
    method = methods().get(estimator.name)
    if method is None:  # e.g. a codec described by a TOML file given on the command line
        method = Method(estimator.name, "unregistered:none", getattr(estimator, "family", "other"),
                        estimator.name, 1000, source="not registered")
    hook = getattr(estimator, "report_columns", None)
    columns = tuple(hook()) if callable(hook) else (method.label,)
    hook = getattr(estimator, "report_label", None)
    label = hook() if callable(hook) else f"{method.label} {estimator.config_name()}"
    return _fields(method, columns, label)


def _fields(method: Method, columns: tuple[str, ...], label: str) -> dict[str, Any]:
    first = method.column(columns[0]) if columns else None
    return {
        "column": columns[0] if columns else "",
        "also_columns": list(columns[1:]),
        "label": label,
        "method_label": method.label,
        "family": method.family,
        "order": first.order if first else method.order,
        "paper": bool(first and first.paper),
        "figures": list(method.figures),
    }


def declared_report(method_name: str, config: dict[str, Any], config_name: str = "") -> dict[str, Any]:
    """The report fields of a saved result that carries none (written before results declared them).

    Read from the registered method: its ``saved_report(config)`` gives the columns and label that its
    estimator's ``report_columns()`` and ``report_label()`` would have; otherwise the method's own label
    is its column. A method no longer registered is a column of its own under its name.
    """
    method = methods().get(method_name)
    if method is None:
        method = Method(method_name, "unregistered:none", "other", method_name, 1000, source="not registered")
    if method.saved_report is not None:
        columns, label = method.saved_report(config)
    else:
        columns, label = (method.label,), f"{method.label} {config_name}".strip()
    return _fields(method, tuple(columns), label)


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


def _trilobyte(model_dir: str, **settings: Any) -> Any:
    from trilobyte.gpt2.estimate import TrilobyteRate

    return TrilobyteRate(model_dir, **settings)


def _hybrid(model: str, **settings: Any) -> Any:
    from trilobyte.hybrid.method import make_estimator

    return make_estimator(model, **settings)


def trilobyte_report(config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Table 1 column and label of a Trilobyte model's result, from its saved config.

    Standard (sample tokens), Transfer (one model over several datasets, or low bytes masked) or Trilobyte.
    """
    tokenizer = config.get("tokenizer") or {}
    if tokenizer.get("scheme") == "sample":
        column = "Standard"
    elif len(config.get("trained_on") or []) > 1 or tokenizer.get("depth_dropout"):
        column = "Transfer"
    else:
        column = "Trilobyte"
    return (column,), f"{column} {config.get('model')} ({config.get('preset')})"


_TRAIN = "python -m trilobyte.train --dataset {dataset}"
BUILT_IN = (
    Method(
        "trilobyte", _trilobyte, "learned", "Trilobyte", 40,
        requires=("torch", "transformers", "safetensors"),
        description="GPT-2 over byte tokens (or sample tokens: Standard; one multi-depth model: Transfer)",
        command="python -m trilobyte.estimate --model DIR",
        columns=(
            Column("Standard", 30, paper=True, impossible_depths=(24,), same_as={8: "Trilobyte"},
                   fill=f"{_TRAIN} --scheme sample --out models/{{dataset}}-sample && python -m trilobyte.estimate"
                        " --model models/{dataset}-sample --dataset {dataset} --split {split}",
                   note="At 8 bits one sample is one byte, so Standard's sample tokens are Trilobyte's byte tokens:"
                        " the two are one model, trained and rated once (its 8-bit cells read \"= Trilobyte\")."),
            Column("Trilobyte", 40, paper=True, figures=("correlation",),
                   fill=f"{_TRAIN} --out models/{{dataset}} && python -m trilobyte.estimate --model models/{{dataset}}"
                        " --dataset {dataset} --split {split}"),
            Column("Transfer", 50, paper=True, figures=("correlation",),
                   fill="python -m trilobyte.estimate --model models/transfer --dataset {dataset} --split {split}"),
        ),
        figures=("byte-positions", "correlation"), saved_report=trilobyte_report,
    ),
    Method(
        "hybrid", _hybrid, "learned", "Hybrid", 60, requires=("numba", "safetensors"),
        description="integer prediction cascade + small integer network, range-coded; exact on every machine",
        command="python -m trilobyte.hybrid.evaluate --model DIR",
        # beyond the paper, but shown in Table 1's main part beside the paper's learned columns
        columns=(Column("Hybrid", 60, paper=True,
                        fill="python -m trilobyte.hybrid.train --dataset {dataset} --out models/hybrid &&"
                             " python -m trilobyte.hybrid.evaluate --model models/hybrid --dataset {dataset}"
                             " --split {split}"),
                 Column("Hybrid: cascade alone", 61), Column("Hybrid: network alone", 62)),
    ),
)
