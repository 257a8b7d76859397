"""``python -m icpscan.crawl``: fetch homepages, one JSON line per input domain.

For worker processes, tests and debugging a site by hand::

    echo example.com | python -m icpscan.crawl - --nameserver 1.2.4.8
    python -m icpscan.crawl jobs.jsonl --connect-to ':443:127.0.0.1:8443' --with-body

Input lines are domains or JSON jobs (``{"domain", "address", ...context}``). Output lines are
the :class:`~icpscan.models.FetchResult` record plus ``schema_version``, ``charset``,
``context`` and, with ``--with-body``, ``body_b64``. Exit code 2 for bad options or rules.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from icpscan.crawl.connect_to import load_connect_to_file, load_resolve_file
from icpscan.crawl.run import run_fetch
from icpscan.models import SCHEMA_VERSION, FetchedPage, to_jsonable


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.jobs != "-" and not Path(args.jobs).is_file():
            raise ValueError(f"cannot read jobs file {args.jobs!r}")
        settings = _settings(args)
    except ValueError as exc:
        print(f"icpscan.crawl: error: {exc}", file=sys.stderr)
        return 2
    output: IO[str] = (
        sys.stdout if args.output == "-" else Path(args.output).open("w", encoding="utf-8")  # noqa: SIM115
    )

    def write(page: FetchedPage) -> None:
        output.write(json.dumps(page_json(page, with_body=args.with_body), ensure_ascii=False))
        output.write("\n")
        output.flush()

    try:
        run_fetch(_jobs(args.jobs), settings, on_item=write)
    except ValueError as exc:  # bad rules, nameservers or CA bundle: before anything started
        print(f"icpscan.crawl: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if output is not sys.stdout:
            output.close()
    return 0


def page_json(page: FetchedPage, *, with_body: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **to_jsonable(page.result)}
    record["charset"] = page.charset
    record["context"] = page.context
    if with_body:
        record["body_b64"] = base64.b64encode(page.body).decode("ascii")
    return record


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m icpscan.crawl", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("jobs", help="file of domains / JSON jobs, one per line ('-' = stdin)")
    parser.add_argument("-o", "--output", default="-", help="JSON lines output ('-' = stdout)")
    parser.add_argument("--connect-to", action="append", default=[], metavar="H1:P1:H2:P2")
    parser.add_argument("--connect-to-file", action="append", default=[], metavar="FILE")
    parser.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT:ADDR")
    parser.add_argument("--resolve-file", action="append", default=[], metavar="FILE")
    parser.add_argument("--nameserver", action="append", default=[], metavar="IP[:PORT]")
    parser.add_argument(
        "--static-hosts", metavar="FILE", help='JSON {"name": ["address", ...]} instead of DNS'
    )
    parser.add_argument("--allow-private", action="store_true", help="lift the egress policy")
    parser.add_argument("--ca-bundle", metavar="FILE", help="extra trusted CAs (PEM)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="download timeout")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=JSON", help="any Scrapy setting"
    )
    parser.add_argument("--with-body", action="store_true", help="add body_b64 to each line")
    return parser


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    connect_to = list(args.connect_to)
    for path in args.connect_to_file:  # parsed here so errors name the file and line
        connect_to += [str(rule) for rule in load_connect_to_file(path)]
    resolve = list(args.resolve)
    for path in args.resolve_file:
        resolve += [str(pin) for pin in load_resolve_file(path)]
    settings: dict[str, Any] = {
        "ICPSCAN_CONNECT_TO": connect_to,
        "ICPSCAN_RESOLVE": resolve,
        "ICPSCAN_ALLOW_PRIVATE": args.allow_private,
    }
    if args.nameserver:
        settings["ICPSCAN_NAMESERVERS"] = args.nameserver
    if args.static_hosts:
        try:
            settings["ICPSCAN_STATIC_HOSTS"] = json.loads(Path(args.static_hosts).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read --static-hosts {args.static_hosts!r}: {exc}") from exc
    if args.ca_bundle:
        settings["ICPSCAN_CA_BUNDLE"] = args.ca_bundle
    if args.timeout is not None:
        if args.timeout <= 0:
            raise ValueError("--timeout must be positive")
        settings["DOWNLOAD_TIMEOUT"] = args.timeout
    for assignment in args.set:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise ValueError(f"--set expects NAME=JSON, got {assignment!r}")
        try:
            settings[name] = json.loads(value)
        except json.JSONDecodeError:
            settings[name] = value
    return settings


def _jobs(source: str) -> Iterator[Any]:
    stream = sys.stdin if source == "-" else Path(source).open(encoding="utf-8-sig")  # noqa: SIM115
    try:
        for line in stream:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if not text.startswith("{"):
                yield text
                continue
            try:
                yield json.loads(text)
            except json.JSONDecodeError as exc:
                print(f"icpscan.crawl: skipping a bad JSON job: {exc}", file=sys.stderr)
    finally:
        if stream is not sys.stdin:
            stream.close()


if __name__ == "__main__":
    sys.exit(main())
