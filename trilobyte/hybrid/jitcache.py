"""Keeps numba's on-disk cache of compiled kernels in step with every source file they are built from.

numba checks a cached function against its own file only: when a function it calls from another module
changes, the cached machine code still runs the old callee. For an exact codec that is an encoder and a
decoder computing different things. :func:`refresh` hashes all the kernel modules' sources together and,
when the digest differs from the one recorded beside the cache, flushes every cached function of those
modules, so each is compiled afresh on its first call.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from types import ModuleType

from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher

STAMP = "kernel-sources.sha256"


def source_digest(modules: tuple[ModuleType, ...]) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def cached_functions(modules: tuple[ModuleType, ...]) -> list[CPUDispatcher]:
    """The functions the modules define with ``cache=True`` (none when numba's JIT is disabled)."""
    return [obj for m in modules for obj in vars(m).values()
            if isinstance(obj, CPUDispatcher) and obj.__module__ == m.__name__
            and isinstance(obj._cache, FunctionCache)]


def refresh(*modules: ModuleType) -> bool:
    """Flush the cached compiled functions of ``modules`` if any of their sources changed; whether it did."""
    functions = cached_functions(modules)
    if not functions:
        return False
    stamps = {Path(f._cache.cache_path) / STAMP for f in functions}
    digest = source_digest(modules)
    if all(s.is_file() and s.read_text() == digest for s in stamps):
        return False
    for function in functions:
        function._cache.flush()
    for stamp in stamps:
        try:
            stamp.write_text(digest)
        except OSError as error:  # the cache is then rebuilt in every process: slower, never stale
            warnings.warn(f"cannot record the kernel sources' digest in {stamp}: {error}", stacklevel=2)
    return True
