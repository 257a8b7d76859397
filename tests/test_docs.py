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


def test_data_dictionary_lists_exactly_the_exported_columns():
    from icpscan.dataset.dictionary import DATASET_VERSION, TABLES

    text = (REPO_ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert f"version {DATASET_VERSION}" in text.splitlines()[0]
    for table in TABLES.values():
        section = text.split(f"## `{table.name}`", 1)[1].split("\n## ", 1)[0]
        documented = re.findall(r"^\| `([a-z_]+)` \| ([a-z_]+) \|", section, flags=re.M)
        assert documented == [(c.name, c.type) for c in table.columns], table.name


def test_readme_lists_every_finding_code_with_its_severity():
    from icpscan.models import FINDING_CODES

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z_]+)` \| (info|low|medium|high) \|", text, flags=re.M)
    assert rows == [(code, str(spec.severity)) for code, spec in FINDING_CODES.items()]


def test_shipped_datasette_metadata_is_current():
    import json

    from icpscan.dataset.datasette import datasette_metadata

    shipped = json.loads((REPO_ROOT / "datasette" / "metadata.json").read_text(encoding="utf-8"))
    assert shipped == datasette_metadata("icpscan")


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
