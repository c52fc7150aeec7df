"""A Shorten-style lossless audio coder registered as a trilobyte-bench method by entry point.

The package's ``pyproject.toml`` names :data:`METHOD` in the group ``trilobyte_bench.methods``; once the
package is installed, ``trilobyte.core.methods.get_method("shorten")`` builds it and every CLI's ``--list``
shows it. This module imports only the registry (no numpy work, no numba): the coder is imported when
the method is built. Fixed polynomial predictor (orders 0-3, per block and channel) + partitioned Rice, coded.
"""

from __future__ import annotations

from trilobyte.core.methods import Method

__version__ = "0.1.0"

METHOD = Method(
    "shorten",                                  # the `method` of its results
    "trilobyte_shorten.coder:make_shorten",     # settings -> a per-file coder (imported when built)
    "classical",                                # its family: its place in the report
    label="Shorten (fixed poly + Rice)",        # its Table 1 column (default: the name)
    requires=("numpy", "numba"),                # what `--list` checks
    command="python -m trilobyte_shorten",      # what runs it
)
