"""Turn one row of a record export or one object of a lookup reply into a FilingRecord.

Accepted names per field: ours (``entity_name``), the MIIT query API's (``unitName``) and the
Chinese column headers that filing-query tools export (``主办单位名称``). Numbers are
normalised with the extractor's normaliser, so ``粤ＩＣＰ备14023066号 - 1`` in a record
compares equal to ``粤ICP备14023066号-1`` on a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from icpscan.assess import entity_number as entity_of
from icpscan.extract.numbers import normalise
from icpscan.models import FilingRecord
from icpscan.records.errors import RecordConfigError

FIELDS: tuple[str, ...] = (
    "domain",
    "entity_name",
    "entity_type",
    "entity_number",
    "site_number",
    "content_types",
    "approval_time",
    "site_name",
    "limit_access",
    "fetched_at",
)

# our field -> accepted names in a file (first match wins); MIIT API names second.
ALIASES: dict[str, tuple[str, ...]] = {
    "domain": ("domain", "网站域名", "域名", "homeUrl", "网站首页网址"),
    "entity_name": ("entity_name", "unitName", "主办单位名称", "主办单位", "单位名称"),
    "entity_type": ("entity_type", "natureName", "主办单位性质", "单位性质"),
    "entity_number": ("entity_number", "mainLicence", "主体备案号", "主体备案/许可证号"),
    "site_number": ("site_number", "serviceLicence", "网站备案号", "网站备案/许可证号"),
    "content_types": ("content_types", "contentTypeName", "前置审批项", "前置审批"),
    "approval_time": ("approval_time", "updateRecordTime", "审核日期", "审核通过日期", "审核时间"),
    "site_name": ("site_name", "serviceName", "网站名称"),
    "limit_access": ("limit_access", "limitAccess", "是否限制接入"),
    "fetched_at": ("fetched_at", "查询时间"),
}

_ITEM_SPLIT = re.compile(r"[、,，;；/|\s]+")
_TRUE = frozenset({"是", "true", "yes", "1", "y"})
_FALSE = frozenset({"否", "false", "no", "0", "n"})
MAX_TEXT = 500  # characters kept of any text field: a record is data from elsewhere


def resolve_columns(names: list[str]) -> dict[str, str]:
    """Our field -> the column of ``names`` that holds it (a file's header)."""
    present = {name.strip().lstrip("\ufeff"): name for name in names if name}
    found: dict[str, str] = {}
    for field, aliases in ALIASES.items():
        for alias in aliases:
            if alias in present:
                found[field] = present[alias]
                break
    return found


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] if text else None


def normalise_record_number(value: Any) -> str | None:
    """A licence/filing number as the extractor would print it (kept as written if unknown)."""
    text = _text(value)
    if text is None:
        return None
    return normalise(text) or text


def _items(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        parts = [str(v).strip() for v in value]
    else:
        parts = _ITEM_SPLIT.split(str(value))
    return tuple(p[:MAX_TEXT] for p in parts if p and p not in ("无", "-", "—"))


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def normalise_domain(value: str) -> str:
    """``https://WWW.例子.中国/x`` -> ``www.xn--fsqu00a.xn--fiqs8s`` (host only, IDNA, lower)."""
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    text = text.split(":", 1)[0].rstrip(".")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise RecordConfigError(f"not a domain name: {value!r}") from exc
    return text


def record_from_mapping(
    row: Mapping[str, Any],
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    fetched_at: str | None = None,
) -> FilingRecord:
    """One record from a row/object; ``columns`` maps our field -> the row's key.

    Raises :class:`RecordConfigError` when the row has no domain or no number at all.
    """
    keys = columns if columns is not None else resolve_columns(list(row))

    def get(field: str) -> Any:
        key = keys.get(field)
        return row.get(key) if key is not None else None

    domain_text = _text(get("domain"))
    if domain_text is None:
        raise RecordConfigError("record without a domain")
    site_number = normalise_record_number(get("site_number"))
    entity_number = normalise_record_number(get("entity_number"))
    if entity_number is None and site_number is not None:
        entity_number = entity_of(site_number)
    if entity_number is None:
        raise RecordConfigError(f"record for {domain_text} has neither entity nor site number")
    return FilingRecord(
        domain=normalise_domain(domain_text),
        entity_name=_text(get("entity_name")),
        entity_type=_text(get("entity_type")),
        entity_number=entity_number,
        site_number=site_number,
        content_types=_items(get("content_types")),
        approval_time=_text(get("approval_time")),
        site_name=_text(get("site_name")),
        limit_access=_flag(get("limit_access")),
        source=source,
        fetched_at=_text(get("fetched_at")) or fetched_at,
    )
