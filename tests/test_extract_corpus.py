"""The labelled corpus: one test per case, plus precision and recall over the whole corpus."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from icpscan import extract
from icpscan.models import Extraction, FoundNumber

CORPUS = Path(__file__).parent / "corpus" / "extract_cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
TODAY = datetime.date(2026, 11, 28)


def run_case(case: dict[str, Any]) -> Extraction:
    page: str | bytes = case["page"]
    if "encoding" in case:
        page = case["page"].encode(case["encoding"])
    return extract(page, base_url=case.get("base_url"), encoding=case.get("hint"), today=TODAY)


def _field(number: FoundNumber, name: str) -> Any:
    value = getattr(number, name)
    if name == "province":
        return value.code if value is not None else None
    if name == "location":
        return value.value
    if name == "problems":
        return sorted(value)
    return value


def test_corpus_is_big_and_varied_enough():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(CASES) >= 250
    assert sum(1 for c in CASES if c.get("trap")) >= 60
    kinds = {e["kind"] for c in CASES for e in c["expect"]}
    assert kinds == {"icp_filing", "icp_licence", "telecom_licence", "psb_filing"}
    assert sum(1 for n in names if n.startswith("61-")) >= 43  # every ICP-DOMAIN §6.1 row


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    result = run_case(case)
    found = {(n.kind.value, n.number): n for n in result.numbers}
    expected = {(e["kind"], e["number"]): e for e in case["expect"]}
    assert sorted(found) == sorted(expected)
    for key, want in expected.items():
        got = {name: _field(found[key], name) for name in want if name not in ("kind", "number")}
        want_fields = {
            name: sorted(value) if name == "problems" else value
            for name, value in want.items()
            if name not in ("kind", "number")
        }
        assert got == want_fields, key
    if "expect_encoding" in case:
        assert (result.encoding, result.encoding_mismatch) == (
            case["expect_encoding"],
            case["expect_mismatch"],
        )


def _score() -> tuple[int, int, int]:
    true_pos = false_pos = false_neg = 0
    for case in CASES:
        found = {(n.kind.value, n.number) for n in run_case(case).numbers}
        expected = {(e["kind"], e["number"]) for e in case["expect"]}
        true_pos += len(found & expected)
        false_pos += len(found - expected)
        false_neg += len(expected - found)
    return true_pos, false_pos, false_neg


def test_corpus_precision_and_recall(request: pytest.FixtureRequest) -> None:
    true_pos, false_pos, false_neg = _score()
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 1.0
    line = (
        f"extract corpus: {len(CASES)} cases, {true_pos + false_neg} expected numbers: "
        f"precision {precision:.4f} ({false_pos} false positives), "
        f"recall {recall:.4f} ({false_neg} misses)"
    )
    print(line)
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(line)
    assert (precision, recall) == (1.0, 1.0), line


@pytest.mark.parametrize("spelling", ["&#23433;", "&#x5b89;", "&#x5B89;", "&#X5B89;"])
def test_a_psb_number_hiding_its_an_behind_an_entity_is_found_deep_in_a_page(spelling):
    """The anchor for 安 written as an entity (the only anchor this footer offers)."""
    article = "<p>" + "新闻内容" * 3000 + "</p>"
    footer = f'<div class="footer">京公网{spelling}备 11010502030143号</div>'
    result = extract(f"<html><body>{article}{footer}</body></html>".encode())
    assert [n.number for n in result.numbers] == ["京公网安备11010502030143号"]
