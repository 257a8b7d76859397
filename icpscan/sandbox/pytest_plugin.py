"""pytest plugin: nothing may leave loopback, and the offline sandbox as fixtures.

Enable it with ``pytest_plugins = ["icpscan.sandbox.pytest_plugin"]`` in a conftest (icpscan's
own tests do) or ``pytest -p icpscan.sandbox.pytest_plugin``.

The loopback guard (:mod:`icpscan.egress`) is armed for the test process before any test runs,
and ICPSCAN_LOOPBACK_ONLY / ICPSCAN_EGRESS_LOG are exported so every subprocess a test starts
(the CLI, Scrapy workers) arms it too and reports violations back through the log file. A test
that tries to reach beyond loopback fails even if the code under test swallowed the refusal.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from icpscan import egress

_EGRESS_LOG = Path(tempfile.mkdtemp(prefix="icpscan-egress-")) / "violations.log"


def _read_and_clear_log() -> list[str]:
    if not _EGRESS_LOG.exists():
        return []
    lines = _EGRESS_LOG.read_text(encoding="utf-8").splitlines()
    _EGRESS_LOG.unlink()
    # This process's own violations are already in egress.take_violations().
    own = f"{os.getpid()} "
    return [f"(pid {line})" for line in lines if not line.startswith(own)]


def pytest_configure(config: pytest.Config) -> None:
    os.environ[egress.LOOPBACK_ONLY_ENV] = "1"
    os.environ[egress.EGRESS_LOG_ENV] = str(_EGRESS_LOG)
    # tldextract must never fetch the public suffix list; icpscan never asks it to, and this
    # makes a stray default extractor fail fast instead of hanging.
    os.environ.setdefault("TLDEXTRACT_CACHE_TIMEOUT", "0.1")
    egress.install_loopback_guard()
    config.addinivalue_line(
        "markers", "egress_violation_expected: the test provokes the loopback guard on purpose"
    )


def _fail_on_violations(item: pytest.Item) -> None:
    seen = egress.take_violations() + _read_and_clear_log()
    if seen and not item.get_closest_marker("egress_violation_expected"):
        pytest.fail("test tried to reach beyond loopback:\n  " + "\n  ".join(seen), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Checked in the call phase so the offending test is reported as failed.
    _fail_on_violations(item)
    result = yield
    _fail_on_violations(item)
    return result


@pytest.fixture(autouse=True)
def _no_egress_in_fixtures(request: pytest.FixtureRequest) -> Iterator[None]:
    """Catch violations made by fixtures during setup and teardown."""
    _fail_on_violations(request.node)
    yield
    _fail_on_violations(request.node)
