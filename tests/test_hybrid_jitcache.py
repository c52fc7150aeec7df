"""numba's on-disk cache and a callee changed in another file: stale machine code unless refreshed."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]
CALLEE = "from numba import njit\n\n\n@njit(cache=True)\ndef value():\n    return {}\n"
CALLER = """import sys
from numba import njit
import callee
{import_refresh}

@njit(cache=True)
def run():
    return callee.value() * 10

{refresh}
"""


def build(folder: Path, refreshed: bool) -> None:
    folder.mkdir()
    (folder / "callee.py").write_text(CALLEE.format(1))
    (folder / "caller.py").write_text(CALLER.format(
        import_refresh="from trilobyte.hybrid import jitcache" if refreshed else "",
        refresh="jitcache.refresh(sys.modules[__name__], callee)" if refreshed else ""))


def result(folder: Path) -> str:
    env = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", "import caller; print(caller.run())"], capture_output=True,
                         text=True, env=env, cwd=folder, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def change_callee(folder: Path) -> None:
    path = folder / "callee.py"
    stat = path.stat()
    path.write_text(CALLEE.format(2))  # same size: only the time stamp tells numba
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def test_a_changed_callee_is_recompiled_only_with_the_refresh(tmp_path: Path) -> None:
    plain, guarded = tmp_path / "plain", tmp_path / "guarded"
    build(plain, refreshed=False)
    build(guarded, refreshed=True)
    assert result(plain) == result(guarded) == "10"
    assert result(guarded) == "10"  # loaded from the cache: the digest matches, nothing flushed
    for folder in (plain, guarded):
        change_callee(folder)
    assert result(plain) == "10"  # numba alone: the caller's cached code still runs the old callee
    assert result(guarded) == "20"
    assert result(guarded) == "20"


def hybrid_imports(path: Path) -> set[str]:
    """The trilobyte.hybrid modules a source file imports (``import a.b as c`` or ``from a.b import c``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "trilobyte.hybrid":
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trilobyte.hybrid."):
            names.add(node.module.split(".")[2])
    return names


def test_the_kernel_refreshes_every_module_its_compiled_functions_are_built_from() -> None:
    """Modules with cached functions, and every module they import: numba freezes an imported constant
    (``settings.MAX_ORDER`` sizes the cascade's arrays) into the cached code, so a change there must
    flush it too."""
    from trilobyte.hybrid import kernel

    folder = ROOT / "trilobyte" / "hybrid"
    compiled = {p.stem for p in folder.glob("*.py") if "@njit(cache=True" in p.read_text()}
    imported = set().union(*(hybrid_imports(folder / f"{name}.py") for name in compiled)) - {"jitcache"}
    assert "settings" in imported
    assert compiled | imported == {m.__name__.rsplit(".", 1)[1] for m in kernel.MODULES}
