"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re

import click

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


def test_readme_documents_every_finding_code_with_its_severity():
    from icpscan.models import FINDING_CODES

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for spec in FINDING_CODES.values():
        assert f"| `{spec.code}` | {spec.severity} |" in readme, spec.code


def test_every_command_has_useful_help():
    from click.testing import CliRunner

    from icpscan.cli import cli

    runner = CliRunner()
    assert cli.commands, "no commands registered"
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert (command.help or "").strip(), f"{name} has no description"
        assert len(result.output.splitlines()) >= 5, name
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{name} {param.opts} has no help text"
