"""What the distributed commands share: the extra's import check, options, error mapping.

Nothing here imports redis or scrapy-redis at module level: the core install has neither, and
``icpscan --help`` must work without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from icpscan.cli.common import InputError

F = TypeVar("F", bound=Callable[..., Any])

MISSING_EXTRA = "distributed scans need the 'distributed' extra: pip install 'icpscan[distributed]'"


def require_distributed() -> None:
    try:
        import redis  # noqa: F401
        import scrapy_redis  # noqa: F401
    except ImportError:
        raise InputError(MISSING_EXTRA) from None


@contextmanager
def distributed_errors() -> Iterator[None]:
    """A distributed failure is one line on stderr and exit code 2, never a traceback."""
    from icpscan.distributed.connection import DistributedError, RedisError, describe

    try:
        yield
    except DistributedError as exc:
        raise InputError(str(exc)) from None
    except RedisError as exc:
        raise InputError(f"redis: {describe(exc)}") from None


def redis_option(func: F) -> F:
    return click.option(
        "--redis",
        "redis_url",
        required=True,
        metavar="URL",
        help="The scan's Redis: redis://[:PASSWORD@]HOST:PORT/DB (on a trusted network only).",
    )(func)


def lease_option(func: F) -> F:
    return click.option(
        "--lease",
        type=click.FloatRange(min=1.0),
        default=30.0,
        show_default=True,
        help="Seconds a silent worker keeps its domains before others take them over.",
    )(func)


def notice_printer(console: Any) -> Callable[[str], None]:
    """Operational notices (a worker died, Redis came back) always reach stderr."""

    def notice(message: str) -> None:
        if console is not None:
            from rich.text import Text

            console.print(Text(f"icpscan: {message}", style="yellow"))
        else:
            click.echo(f"icpscan: {message}", err=True)

    return notice


def feeder_runner(options: dict[str, Any], console: Any) -> Callable[..., Any]:
    """``run_scan``'s stand-in for ``icpscan scan --redis URL --role feeder``."""
    require_distributed()
    from icpscan.distributed.feeder import FeedOptions, run_distributed_scan

    feed = FeedOptions(redis_url=options["redis_url"], network_rate=options["network_rate"])
    notice = notice_printer(console)

    def run(request: Any, **callbacks: Any) -> Any:
        with distributed_errors():
            return run_distributed_scan(request, feed, notice=notice, **callbacks)

    return run
