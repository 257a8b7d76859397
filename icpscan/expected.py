"""Read a hosting provider's expected-filings file (``--expected FILE``).

CSV with the header ``domain,icp_number,server_ips``; ``server_ips`` is a ``;``-separated list
(may be empty), ``icp_number`` may be empty (a domain known to be on our servers but not filed).
Numbers are normalised like the extractor normalises what a page shows, so ``京ICP备 12345678号``
in the file matches ``京ICP备12345678号`` on the page.
"""

from __future__ import annotations

import csv
import ipaddress
from pathlib import Path

from icpscan.assess import ExpectedFiling, ExpectedFilings
from icpscan.extract import normalise
from icpscan.targets import InvalidLine, parse_target

REQUIRED_COLUMNS = ("domain", "icp_number", "server_ips")


class ExpectedFileError(ValueError):
    """The file cannot be used; the message names the file and line."""


def read_expected(path: str | Path) -> ExpectedFilings:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExpectedFileError(f"cannot read expected-filings file {path}: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ExpectedFileError(
            f"{path}: expected a header 'domain,icp_number,server_ips';"
            f" missing {', '.join(missing)}"
        )
    reader.fieldnames = header
    rows: dict[str, ExpectedFiling] = {}
    for row in reader:
        line = reader.line_num
        target = parse_target((row.get("domain") or "").strip(), line=line)
        if isinstance(target, InvalidLine):
            raise ExpectedFileError(f"{path}:{line}: {target.message}")
        number_text = (row.get("icp_number") or "").strip()
        number = normalise(number_text) if number_text else None
        if number_text and number is None:
            raise ExpectedFileError(f"{path}:{line}: not an ICP number: {number_text!r}")
        servers: set[str] = set()
        for item in (row.get("server_ips") or "").split(";"):
            if not item.strip():
                continue
            try:
                servers.add(str(ipaddress.ip_address(item.strip())))
            except ValueError:
                raise ExpectedFileError(
                    f"{path}:{line}: not an IP address: {item.strip()!r}"
                ) from None
        rows[target.domain] = ExpectedFiling(target.domain, number, frozenset(servers))
    return ExpectedFilings(rows)
