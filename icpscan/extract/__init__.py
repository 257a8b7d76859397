"""Find every ICP filing, ICP licence, telecom licence and public-security number on a page.

Pure functions, no I/O: the Scrapy spider, the CLI and notebooks call the same code::

    from icpscan import extract
    result = extract(response.body, base_url=response.url, encoding="gbk")
    for number in result.numbers:
        print(number.kind, number.number, number.valid, number.location)
"""

from __future__ import annotations

import datetime

from icpscan.extract.decode import Decoded, decode
from icpscan.extract.numbers import CANONICAL_PATTERNS, normalise, parse_number
from icpscan.extract.page import scan_page
from icpscan.extract.signals import detect_signals
from icpscan.models import Extraction, FoundNumber

__all__ = [
    "CANONICAL_PATTERNS",
    "Decoded",
    "Extraction",
    "FoundNumber",
    "decode",
    "detect_signals",
    "extract",
    "normalise",
    "parse_number",
]


def extract(
    page: bytes | str,
    *,
    base_url: str | None = None,
    encoding: str | None = None,
    today: datetime.date | None = None,
) -> Extraction:
    """Every number ``page`` shows, normalised, judged and placed.

    ``page`` is the raw body (decoded with charset sniffing; ``encoding`` is the HTTP
    Content-Type charset or a user's hint, overruled when the bytes prove it wrong) or text.
    ``base_url`` resolves relative links and tells whose page it is (demo numbers are a site's
    own only on their owner's domain). ``today`` fixes the date years are judged against.
    """
    if isinstance(page, str):
        text = page
        decoded = Decoded(page, "str", None, "text", False)
    else:
        decoded = decode(bytes(page), encoding)
        text = decoded.text
    scan = scan_page(text, base_url=base_url, today=today)
    return Extraction(
        numbers=scan.numbers,
        encoding=decoded.encoding,
        declared_encoding=decoded.declared,
        encoding_mismatch=decoded.declaration_lied,
        title=scan.title,
        signals=detect_signals(text),
    )
