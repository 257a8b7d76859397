"""icpscan's tests run with the sandbox plugin: loopback-only guard plus sandbox fixtures."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Subprocesses started by tests (the CLI, Scrapy workers) import this checkout.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
)

pytest_plugins = ["pytester", "icpscan.sandbox.pytest_plugin"]
