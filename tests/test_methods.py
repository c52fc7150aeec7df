"""The method registry, and ``get_method(name, **settings).estimate_rate(dataset)`` giving what each CLI writes."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

from trilobyte.core import audio
from trilobyte.core.datasets import get_dataset
from trilobyte.core.methods import (
    FAMILIES,
    Method,
    MethodError,
    MethodStatus,
    MethodUnavailable,
    available,
    build,
    find,
    format_list,
    get_method,
    load_entry_points,
    methods,
    register,
)
from trilobyte.core.protocol import RateResult
from trilobyte.core.registry import DISTRIBUTION, ENTRY_POINT_GROUP, entry_points, methods_of
from trilobyte.core.results import ResultStore

ROOT = Path(__file__).resolve().parents[1]

BUILT_IN = {
    "trilobyte": "learned", "hybrid": "learned", "flac": "classical", "flac-frames": "classical",
    "llm-incontext": "in-context LLM",
    "wavpack": "classical", "flac-cli": "classical", "alac": "classical", "tta": "classical", "ape": "classical",
    "optimfrog": "classical", "sac": "classical", "gzip": "general-purpose", "bzip2": "general-purpose",
    "xz": "general-purpose", "zstd": "general-purpose", "nac-dac": "neural codec", "nac-encodec": "neural codec",
    "nac-custom-dac": "neural codec",
}


# ------------------------------------------------------------------------------------------ registry


def test_every_built_in_is_listed_with_its_family_and_readiness() -> None:
    statuses = {s.method.name: s for s in available()}
    assert set(BUILT_IN) <= set(statuses)
    assert {name: statuses[name].method.family for name in BUILT_IN} == BUILT_IN
    listing = format_list()
    for name, status in statuses.items():
        (line,) = [row for row in listing.splitlines() if row.split()[:1] == [name] and status.method.family in row]
        assert ("ready" in line) == status.ready and ("cannot run" in line) == (not status.ready)
        if not status.ready:
            assert f"{name}: needs {status.missing[0]}" in listing
    assert statuses["flac"].ready and statuses["gzip"].ready  # pyflac and zlib are always here
    assert "no Debian package provides" in " ".join(statuses["ape"].missing)  # no 'mac' command anywhere
    ranks = [FAMILIES.index(s.method.family) for s in available()]
    assert ranks == sorted(ranks)  # by family, then as registered


def _make_nothing() -> object:
    raise AssertionError("a method that cannot run must not be built")


def test_a_missing_requirement_is_named_and_refused() -> None:
    method = Method("needs-a-module", _make_nothing, "other", "Needs a module",
                    requires=("numpy", "no_such_module_for_trilobyte"))
    assert method.missing() == ["no_such_module_for_trilobyte"]
    with pytest.raises(MethodUnavailable, match="needs-a-module cannot run here: it needs no_such_module_for"):
        build(method)
    listing = format_list([MethodStatus(method, tuple(method.missing()))])
    assert "cannot run" in listing and "needs-a-module: needs no_such_module_for_trilobyte" in listing
    probed = Method("probed", _make_nothing, requires=(lambda: None, lambda: "its 'xyz' command"))
    assert probed.missing() == ["its 'xyz' command"]
    with pytest.raises(MethodUnavailable, match="its 'xyz' command"):
        build(probed)


def test_names_and_registrations_are_checked() -> None:
    with pytest.raises(MethodError, match="two methods are named 'flac'"):
        register(Method("flac", "somewhere.else:make", "classical", "Another FLAC"))
    assert find("flac").label == "FLAC"  # the registered one is untouched
    with pytest.raises(MethodError, match=r"no method named 'nope'; registered: .*flac"):
        get_method("nope")
    with pytest.raises(MethodError, match="family must be one of"):
        Method("odd", "a.b:c", "mystery")
    with pytest.raises(MethodError, match=r"looks like 'package\.module:callable'"):
        Method("odd", "no_colon")
    assert set(FAMILIES) >= {m.family for m in methods().values()}


def test_a_registration_needs_a_name_and_a_factory_only() -> None:
    method = Method("mine", "my_package.coder:make")
    assert (method.label, method.family, method.requires, method.columns) == ("mine", "other", (), ())
    assert [c.label for c in method.all_columns()] == ["mine"]
    assert find("hybrid").column("Hybrid").paper and not find("hybrid").column("Hybrid: cascade alone").paper


def pyproject_entry_points() -> dict[str, str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]["entry-points"][ENTRY_POINT_GROUP]


def test_every_entry_point_in_pyproject_names_methods() -> None:
    """Read from the source (the installed metadata may predate it): each entry point loads Method objects,
    every built-in among them, each name once; the registry module itself builds none."""
    found: dict[str, str] = {}
    for name, value in pyproject_entry_points().items():
        entry = importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP)
        for method in methods_of(entry):
            assert method.name not in found, f"{method.name} registered by both {found[method.name]} and {name}"
            found[method.name] = name
    assert set(BUILT_IN) <= set(found)
    assert {found["trilobyte"], found["hybrid"]} == {"gpt2", "hybrid"}  # registered as the baselines are


def test_installed_entry_points_are_those_of_pyproject() -> None:
    """The registry reads installed metadata: after a change to pyproject.toml's entry points, reinstall."""
    installed = {e.name: e.value for e in entry_points() if e.dist is not None and e.dist.name == DISTRIBUTION}
    assert installed == pyproject_entry_points(), "stale package metadata: run `pip install -e .` again"


def test_the_registry_imports_no_method() -> None:
    """Listing every method imports registrations only: no implementation, no torch, no numba."""
    code = ("import sys; from trilobyte.core.methods import format_list; format_list(); "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                                text=True).stdout.split())
    heavy = {"torch", "numba", "transformers", "trilobyte.gpt2.estimate", "trilobyte.hybrid.method",
             "baselines.flac.frames", "baselines.llm_incontext.method", "baselines.nac.coder", "trilobyte.core.runner"}
    assert not heavy & loaded, heavy & loaded


def test_a_broken_entry_point_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [trilobyte_bench.methods]
        gone = no_such_module_for_trilobyte:METHOD
        wrong = json:dumps
        """))
    before = set(methods())
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = load_entry_points()
    assert len(problems) == 2
    assert any("gone = no_such_module_for_trilobyte:METHOD: ModuleNotFoundError" in p for p in problems)
    assert any("wrong = json:dumps" in p and "TypeError" in p for p in problems)  # a function, not Methods
    assert set(methods()) == before and find("flac").family == "classical"


# ------------------------------------------------------------- the Python API gives what the CLI writes


def written(out: Path, method: str) -> RateResult:
    (result,) = [r for _, r in ResultStore(out).all_results() if r.method == method]
    return result


def assert_same(api: RateResult, cli: RateResult) -> None:
    assert not api.failures and not cli.failures and api.files
    assert (api.method, api.config_name, api.mode, api.dataset_fingerprint) == (
        cli.method, cli.config_name, cli.mode, cli.dataset_fingerprint)
    assert api.config == cli.config
    assert [(f.id, f.raw_bits, f.compressed_bits, f.container_bits) for f in api.files] == [
        (f.id, f.raw_bits, f.compressed_bits, f.container_bits) for f in cli.files]
    assert api.report == cli.report and api.report["column"]


WHERE = ["--dataset", "demo-speech", "--split", "test", "--limit", "2", "--no-progress", "--jobs", "1"]


def speech() -> object:
    return get_dataset("demo-speech", split="test", limit=2)


def test_flac_api_equals_the_sweep(tmp_path: Path) -> None:
    from baselines.flac.sweep import main

    assert main([*WHERE, "--levels", "8", "--disable-subframes", "none", "--out", str(tmp_path)]) == 0
    api = get_method("flac", level=8).estimate_rate(speech())
    assert_same(api, written(tmp_path, "flac"))
    assert api.mode == "coded" and api.report["column"] == "FLAC" and api.report["label"] == "FLAC -8"


@pytest.mark.parametrize("codec", ["gzip", "wavpack"])
def test_classical_api_equals_the_cli(codec: str, tmp_path: Path) -> None:
    from baselines.classical.cli import main

    if not find(codec).missing():
        assert main([*WHERE, "--codec", codec, "--no-with-flac", "--out", str(tmp_path)]) == 0
        assert_same(get_method(codec).estimate_rate(speech()), written(tmp_path, codec))
    else:
        pytest.skip(f"{codec} cannot run here: {find(codec).missing()}")


@pytest.mark.slow
def test_nac_api_equals_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from baselines.nac import models as nac_models
    from baselines.nac.cli import main

    weights = nac_models.save_random_model("dac", "tiny", tmp_path / "dac", seed=1)
    cuts = short_cuts(tmp_path / "cuts")
    out = tmp_path / "results"
    argv = ["--dataset", str(cuts), "--split", "all", "--codec", "dac", "--weights", str(weights),
            "--block-seconds", "0.5", "--no-with-flac", "--out", str(out), "--no-progress", "--jobs", "1"]
    assert main(argv) == 0
    api = get_method("nac-dac", weights=weights, block_seconds=0.5).estimate_rate(get_dataset(str(cuts), split="all"))
    assert_same(api, written(out, "nac-dac"))
    assert api.extra == written(out, "nac-dac").extra  # the residual histogram the coder adds when done


def short_cuts(folder: Path) -> Path:
    """Three short cuts of real speech (48 kHz 16-bit): small enough for tiny models on one core."""
    folder.mkdir()
    clip = next(get_dataset("demo-speech48", split="test").clips())
    for i, start in enumerate((20000, 24000, 28000)):
        (folder / f"speaker{i}").mkdir()
        cut = np.ascontiguousarray(clip.samples[start:start + 600])
        audio.write_pcm(folder / f"speaker{i}" / f"cut{i}.wav", cut, 48000, 16)
    return folder


def test_incontext_llm_api_equals_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("constriction")
    from baselines.llm_incontext import models as llm_models
    from baselines.llm_incontext.cli import main
    from tests.llm_tiny import llama_tokenizer, save_tiny_llama

    monkeypatch.setenv(llm_models.MODELS_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(llm_models.CACHE_ENV, str(tmp_path / "cache"))
    model = save_tiny_llama(tmp_path / "tiny-llama", llama_tokenizer())
    cuts = short_cuts(tmp_path / "cuts")
    out = tmp_path / "results"
    argv = ["--model", str(model), "--dataset", str(cuts), "--chunks", "3", "--chunk-samples", "64",
            "--mapping", "ascii7", "--coded", "--split", "all", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    api = get_method("llm-incontext", model=str(model), chunks=3, chunk_samples=64, mapping="ascii7",
                     coded=True).estimate_rate(get_dataset(str(cuts), split="all"))
    assert_same(api, written(out, "llm-incontext"))
    assert api.mode == "coded" and api.report["column"] == "In-context"


def test_trilobyte_api_equals_the_cli(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from trilobyte.gpt2 import estimate, train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = tmp_path / "model"
        assert train.main(["--dataset", "demo-speech48", "--preset", "tiny", "--steps", "3", "--out", str(model),
                           "--no-progress", "--threads", "1", "--eval-every", "3", "--val-windows", "2"]) == 0
        cuts = short_cuts(tmp_path / "cuts")
        out = tmp_path / "results"
        assert estimate.main(["--model", str(model), "--dataset", str(cuts), "--stride", "64", "--split", "all",
                              "--out", str(out), "--no-progress", "--jobs", "1"]) == 0
        api = get_method("trilobyte", model_dir=model, stride=64).estimate_rate(get_dataset(str(cuts), split="all"))
    finally:
        torch.set_num_threads(threads)
    cli = written(out, "trilobyte")
    assert_same(api, cli)
    assert api.mode == "ideal" and api.report["column"] == "Trilobyte"
    assert [f.extra["ideal_bits"] for f in api.files] == [f.extra["ideal_bits"] for f in cli.files]
