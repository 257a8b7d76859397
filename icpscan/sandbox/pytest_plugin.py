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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from icpscan import egress

if TYPE_CHECKING:
    from icpscan.sandbox.runner import Sandbox

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


# -- the offline sandbox as session fixtures ---------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Sandbox]]:
    """``make(sites, seed=1, profile="realistic")`` -> a running Sandbox, one per arguments.

    Sandboxes are cached for the session (tests must not change them; use ``swap`` on a sandbox
    of your own for that) and all stopped when the session ends.
    """
    from icpscan.sandbox.runner import Sandbox
    from icpscan.sandbox.scenario import generate

    running: dict[tuple[int, int, str], Sandbox] = {}

    def make(sites: int, seed: int = 1, profile: str = "realistic") -> Sandbox:
        key = (sites, seed, profile)
        if key not in running:
            state = tmp_path_factory.mktemp(f"sandbox-{sites}-{seed}-{profile}")
            running[key] = Sandbox(generate(sites, seed, profile), state).start()
        return running[key]

    try:
        yield make
    finally:
        for box in running.values():
            box.stop()


@pytest.fixture(scope="session")
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A running 300-site realistic sandbox (seed 1): every category of the scenario occurs."""
    return sandbox_factory(300, 1, "realistic")
