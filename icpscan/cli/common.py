"""Pieces every command shares: exit codes, the input-error type, option bundles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


class InputError(click.ClickException):
    """Bad input from the user (unreadable file, malformed option value): exit 2, one line."""

    exit_code = EXIT_USAGE


def output_options(formats: tuple[str, ...], default: str) -> Callable[[F], F]:
    """``--format`` and ``-o/--output``, shared by every command that prints results."""

    def decorate(func: F) -> F:
        func = click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, writable=True, allow_dash=True),
            default="-",
            show_default=True,
            help="Write results to this file ('-' = stdout).",
        )(func)
        return click.option(
            "--format",
            "output_format",
            type=click.Choice(formats),
            default=default,
            show_default=True,
            help="Output format.",
        )(func)

    return decorate


class GroupedOption(click.Option):
    """An option that says which help section it belongs to (input, resolution, crawl...)."""

    def __init__(self, *args: Any, group: str = "Other", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group


class GroupedCommand(click.Command):
    """A command whose --help lists options under section headings, in first-seen order."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option):
                continue
            record = param.get_help_record(ctx)
            if record is None:
                continue
            group = getattr(param, "group", "Other")
            sections.setdefault(group, []).append(record)
        for group, records in sections.items():
            with formatter.section(f"{group} options"):
                formatter.write_dl(records)


def grouped(group: str) -> Callable[..., Callable[[F], F]]:
    """``@grouped("Crawl")("--timeout", ...)``: click.option with a help section."""

    def make(*decls: str, **attrs: Any) -> Callable[[F], F]:
        return click.option(*decls, cls=GroupedOption, group=group, **attrs)

    return make
