"""The ``icpscan`` command line: parse options, call the library, render results.

Exit codes (documented in the README; changing them is a breaking change):
  0  the command ran (a scan with findings still exits 0)
  1  ``--fail-on SEVERITY`` was given and a finding at or above it exists
  2  usage or input error: one line on stderr, no traceback
  130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import sys

import click

from icpscan import __version__
from icpscan.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, InputError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="icpscan")
def cli() -> None:
    """Audit websites for China's ICP filing rules.

    For each domain icpscan finds where it is hosted (mainland China, Hong Kong, Macau,
    Taiwan or abroad), fetches its homepage, extracts every ICP filing, ICP licence,
    telecom licence and public-security number it shows, and reports what is wrong.

    \b
    Start with the offline demo:   icpscan demo
    Scan a list of domains:        icpscan scan domains.txt --db results.db
    """


def _register_commands() -> None:
    # Each command lives in its own module; importing it attaches it to the group.
    from icpscan.cli import (  # noqa: F401
        collect,
        data,
        demo,
        diff,
        export,
        extract,
        locate,
        report,
        sandbox,
        scan,
        status,
        worker,
    )


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: one-line errors with exit code 2, never a traceback for them."""
    try:
        result = cli.main(args=argv, prog_name="icpscan", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return EXIT_USAGE
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"icpscan: error: {exc.format_message()}{hint}", err=True)
        return EXIT_USAGE
    except InputError as exc:
        click.echo(f"icpscan: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"icpscan: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("icpscan: interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    return result if isinstance(result, int) else 0
