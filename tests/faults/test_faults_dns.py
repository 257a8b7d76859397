"""DNS faults through ``icpscan scan``: every failure is a recorded fact with its exact reason.

The sandbox's DNS server gives the faults profile's sites NXDOMAIN, SERVFAIL, REFUSED, empty
answers, silence (timeouts) and truncated UDP answers; CNAME loops, a 9-name chain, a chain
past the resolver's bound and answers with 300 addresses come on top. The record of such a
domain carries the hosting stage's failure, and its fetch error repeats it (the crawl does not
resolve a name the hosting stage found no address for).
"""

from __future__ import annotations

import json

import pytest

from tests.faults.conftest import db_rows
from tests.faults.support import outcome_problems

RCODE_FAULTS = [
    ("nxdomain", "nxdomain", "NXDOMAIN from {ns}"),
    ("servfail", "servfail", "SERVFAIL from {ns}"),
    ("refused", "refused", "REFUSED from {ns}"),
    ("no_answer", "no_answer", "no A records (NOERROR) from {ns}"),
    ("timeout", "timeout", "no reply from {ns} after 2 tries"),  # --dns-retries 1
]


def _apex_failure(record: dict) -> dict:
    domain = record["domain"]
    return next(e for e in record["hosting"]["errors"] if e["name"] == domain and e["rtype"] == "A")


@pytest.mark.parametrize(("fault", "error", "detail"), RCODE_FAULTS)
def test_a_failed_lookup_is_recorded_with_its_reason(lab, lab_scan, fault, error, detail):
    domains = lab.profile_domains(f"dns_fault:{fault}")
    assert len(domains) == 3
    want = detail.format(ns=lab.sandbox.nameserver)
    for domain in domains:
        record = lab_scan.record(domain)
        failure = _apex_failure(record)
        assert (failure["error"], failure["detail"]) == (error, want)
        assert record["hosting"]["region"] == "unknown"
        assert record["hosting"]["addresses"] == []
        fetch = record["fetch"]
        assert fetch["reached"] is False
        assert fetch["error"] == {"kind": "dns", "detail": f"{domain}: {want}"}
        assert [a["url"] for a in fetch["attempts"]] == [f"https://{domain}/"]
        stored = db_rows(
            lab_scan.db,
            "SELECT error, detail FROM dns_failures WHERE domain = ? AND name = ? AND rtype = 'A'",
            domain,
            domain,
        )
        assert stored == [(error, want)]


def test_a_truncated_udp_answer_falls_back_to_tcp_and_the_site_is_scanned(lab, lab_scan):
    domains = lab.profile_domains("dns_fault:truncate")
    assert len(domains) == 3
    for domain in domains:
        record = lab_scan.record(domain)
        truth = lab.scenario.truth[domain]
        assert record["hosting"]["errors"] == []
        assert record["hosting"]["addresses"] == list(truth.addresses)
        assert record["fetch"]["reached"] is truth.reachable is True
    # each of them was answered over TCP at least once (A; AAAA is truncated too)
    assert lab_scan.tcp_queries >= len(domains)


def test_a_cname_loop_is_detected_not_followed(lab, lab_scan):
    domains = lab.profile_domains("cname_loop")
    assert len(domains) == 3
    for domain in domains:
        record = lab_scan.record(domain)
        failure = _apex_failure(record)
        assert (failure["error"], failure["detail"]) == ("error", f"CNAME loop at {domain}")
        assert failure["cnames"] == [f"edge.{domain}", f"origin.{domain}"]
        assert record["fetch"]["error"] == {
            "kind": "dns",
            "detail": f"{domain}: CNAME loop at {domain}",
        }


def test_a_long_cname_chain_is_followed_to_its_address(lab, lab_scan):
    domains = lab.profile_domains("cname_long_chain")
    for domain in domains:
        record = lab_scan.record(domain)
        hops = [f"hop{k}.gslb.{domain}" for k in range(1, 9)]
        assert record["hosting"]["cnames"] == hops
        assert record["hosting"]["addresses"] == list(lab.scenario.truth[domain].addresses)
        cnames = db_rows(
            lab_scan.db,
            "SELECT cnames FROM dns_answers WHERE domain = ? AND name = ? AND rtype = 'A'",
            domain,
            domain,
        )
        assert [json.loads(c) for (c,) in cnames] == [hops]


def test_a_chain_past_the_bound_stops_with_that_reason(lab, lab_scan):
    case = lab.by_name["dns:chain_past_bound"]
    record = lab_scan.record(case.domain)
    failure = _apex_failure(record)
    assert (failure["error"], failure["detail"]) == ("error", "CNAME chain longer than 12")
    assert len(failure["cnames"]) == 13
    assert record["fetch"]["error"] == {
        "kind": "dns",
        "detail": f"{case.domain}: CNAME chain longer than 12",
    }


def test_hundreds_of_addresses_are_all_recorded(lab, lab_scan):
    many_a = lab.profile_domains("dns_many_a")
    many_aaaa = lab.by_name["dns:many_aaaa"]
    cases = [(d, "A", list(lab.scenario.truth[d].addresses)) for d in many_a]
    aaaa = many_aaaa.dns[many_aaaa.domain].records["AAAA"]
    cases.append((many_aaaa.domain, "AAAA", aaaa))
    for domain, rtype, addresses in cases:
        assert len(addresses) == 300
        record = lab_scan.record(domain)
        assert sorted(record["hosting"]["addresses"]) == sorted(addresses)
        stored = db_rows(
            lab_scan.db,
            "SELECT count(*), count(DISTINCT value) FROM dns_answers"
            " WHERE domain = ? AND rtype = ?",
            domain,
            rtype,
        )
        assert stored == [(300, 300)]
        assert record["fetch"]["reached"] is True
    assert outcome_problems(many_aaaa.expect, lab_scan.record(many_aaaa.domain)) == []
