"""Find the files icpscan ships (``data/``, ``reports/``) in a checkout and in a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped_dir(name: str) -> Path:
    # In a wheel, hatch copies data/ and reports/ under icpscan/_shipped/; in a checkout
    # (editable install, or running from the repo root) they sit beside the package.
    installed = _PACKAGE_DIR / "_shipped" / name
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / name


def data_path(*parts: str) -> Path:
    """Path of a reference-data file under ``data/``."""
    return _shipped_dir("data").joinpath(*parts)


def reports_path(*parts: str) -> Path:
    """Path of a report template or asset under ``reports/``."""
    return _shipped_dir("reports").joinpath(*parts)
