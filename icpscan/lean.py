"""Keep modules icpscan never uses out of its own processes (the CLI and the scan workers).

sqlite-utils imports pandas, numpy and pyarrow whenever they are installed, only so that
inserts accept their types; icpscan never passes them. Importing them costs each process about
0.3 s and 80 MB of RSS, and a scan runs one process per core. Marking them absent in
``sys.modules`` makes sqlite-utils' optional imports fail fast, as if they were not installed.
Called only from entry points (``python -m icpscan``, ``python -m icpscan.worker``), never on
import of the library, so a notebook that uses icpscan and pandas together is unaffected.
"""

from __future__ import annotations

import sys

UNUSED_HEAVY_MODULES = ("pandas", "numpy", "pyarrow")


def keep_unused_heavy_modules_out() -> None:
    for name in UNUSED_HEAVY_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None = "not installed"


def let_heavy_modules_in() -> None:
    """Undo :func:`keep_unused_heavy_modules_out` for a command that does use them (Parquet)."""
    for name in UNUSED_HEAVY_MODULES:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]
