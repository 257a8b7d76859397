"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT


def _readme_shell_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    setup = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("## Set-up", 1)[1]
    setup = setup.split("\n## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```sh\n(.*?)```", setup, flags=re.S)]
    assert len(commands) == 2
    test_command = commands[1]
    assert "pytest" in test_command
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines
