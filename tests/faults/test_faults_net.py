"""TCP and TLS faults through ``icpscan scan``: refused, reset, dropped, stalled, tar-pitted
connections, a slowloris trickle, handshakes that never finish, and bad certificates.

Connection failures are recorded with their kind, their exact detail and every start URL tried
(https, http, then the ``www.`` name, as long as no HTTP answer came back). Certificate problems
are facts about a site that was read, never a reason to skip it. Timeouts use the suite's
``--timeout 2``.
"""

from __future__ import annotations

import pytest

from tests.faults.support import outcome_problems

REFUSED = (
    "DownloadConnectionRefusedError: Connection was refused by other side: 111: Connection refused."
)


def _urls(domain: str) -> list[str]:
    return [
        f"https://{domain}/",
        f"http://{domain}/",
        f"https://www.{domain}/",
        f"http://www.{domain}/",
    ]


def _timeout(url: str) -> str:
    return f"DownloadTimeoutError: Getting {url} took longer than 2.0 seconds."


# tag -> (error kind, detail(domain), [(attempt url, status, error kind)](domain), last status)
CONNECTION_FAULTS = {
    "http:refused": (
        "refused",
        lambda d: REFUSED,
        lambda d: [(u, None, "refused") for u in _urls(d)],
        None,
    ),
    "http:drop": (
        "reset",
        lambda d: "ConnectionDone: Connection was closed cleanly.",
        lambda d: [(u, None, "reset") for u in _urls(d)],
        None,
    ),
    "http:reset": (
        "reset",
        lambda d: "connection closed or reset after 1500 body bytes (ResponseDataLossError)",
        lambda d: [(f"https://{d}/", 200, "reset")],
        200,
    ),
    "http:stall": (
        "timeout",
        lambda d: _timeout(f"https://{d}/"),
        lambda d: [(f"https://{d}/", 200, "timeout")],
        200,
    ),
    "http:tarpit": (
        "timeout",
        lambda d: _timeout(f"http://www.{d}/"),
        lambda d: [(u, None, "timeout") for u in _urls(d)],
        None,
    ),
    # HTTPS goes to a tar pit (the handshake never ends); http:// answers with a redirect back
    "http:cert_stall_nofallback": (
        "timeout",
        lambda d: _timeout(f"https://{d}/"),
        lambda d: [(f"https://{d}/", None, "timeout"), (f"http://{d}/", 301, "timeout")],
        301,
    ),
}


@pytest.mark.parametrize("tag", sorted(CONNECTION_FAULTS))
def test_a_connection_fault_is_recorded_exactly_and_stays_local(lab, lab_scan, tag):
    kind, detail, attempts, status = CONNECTION_FAULTS[tag]
    domains = lab.profile_domains(tag)
    assert len(domains) == 2
    for domain in domains:
        record = lab_scan.record(domain)
        fetch = record["fetch"]
        assert fetch["reached"] is False
        assert fetch["error"] == {"kind": kind, "detail": detail(domain)}
        seen = [
            (a["url"], a["status"], a["error"] and a["error"]["kind"]) for a in fetch["attempts"]
        ]
        assert seen == attempts(domain)
        assert fetch["status"] == status
        assert [f["code"] for f in record["findings"]] == ["UNREACHABLE"]
        assert record["hosting"]["region"] == lab.scenario.truth[domain].region


# tag -> TLS facts the record must carry (the page is read over HTTPS all the same)
CERTIFICATE_FAULTS = {
    "http:cert_expired_nofallback": {"expired": True, "self_signed": False, "hostname_match": True},
    "http:cert_expired_fallback": {"expired": True, "self_signed": False, "hostname_match": True},
    "http:cert_self_signed_nofallback": {
        "expired": False,
        "self_signed": True,
        "hostname_match": True,
        "trusted": False,
    },
    "http:cert_self_signed_fallback": {
        "expired": False,
        "self_signed": True,
        "hostname_match": True,
        "trusted": False,
    },
    "http:cert_wrong_name_nofallback": {
        "expired": False,
        "self_signed": False,
        "hostname_match": False,
    },
    "http:cert_wrong_name_fallback": {
        "expired": False,
        "self_signed": False,
        "hostname_match": False,
    },
}


@pytest.mark.parametrize("tag", sorted(CERTIFICATE_FAULTS))
def test_a_bad_certificate_is_a_fact_about_a_page_that_was_read(lab, lab_scan, tag):
    for domain in lab.profile_domains(tag):
        fetch = lab_scan.record(domain)["fetch"]
        assert (fetch["reached"], fetch["error"]) == (True, None)
        assert fetch["final_url"] == lab.scenario.truth[domain].final_url
        assert fetch["final_url"].startswith("https://")
        facts = {key: fetch["tls"][key] for key in CERTIFICATE_FAULTS[tag]}
        assert facts == CERTIFICATE_FAULTS[tag]
        stored = lab_scan.record(domain)["fetch"]["tls"]["sha256"]
        assert len(stored) == 64


def test_a_handshake_that_never_ends_falls_back_to_plain_http(lab, lab_scan):
    for domain in lab.profile_domains("http:cert_stall_fallback"):
        fetch = lab_scan.record(domain)["fetch"]
        attempts = [
            (a["url"], a["status"], a["error"] and a["error"]["kind"]) for a in fetch["attempts"]
        ]
        assert attempts == [
            (f"https://{domain}/", None, "timeout"),
            (f"http://{domain}/", 200, None),
        ]
        assert (fetch["reached"], fetch["final_url"], fetch["tls"]) == (
            True,
            f"http://{domain}/",
            None,
        )


@pytest.mark.parametrize("tag", ["http:slow", "http:trickle"])
def test_slow_but_finishing_servers_are_read(lab, lab_scan, tag):
    for domain in lab.profile_domains(tag):
        fetch = lab_scan.record(domain)["fetch"]
        assert (fetch["reached"], fetch["status"], fetch["error"]) == (True, 200, None)
        assert fetch["body_size"] > 20_000


def test_a_slowloris_trickle_ends_at_the_download_timeout(lab, lab_scan):
    case = lab.by_name["http:slowloris"]
    record = lab_scan.record(case.domain)
    assert outcome_problems(case.expect, record) == []
    fetch = record["fetch"]
    assert fetch["error"] == {"kind": "timeout", "detail": _timeout(f"https://{case.domain}/")}
    # headers arrived, so the search ends there: http:// would be another answer
    assert [(a["url"], a["status"]) for a in fetch["attempts"]] == [
        (f"https://{case.domain}/", 200)
    ]
