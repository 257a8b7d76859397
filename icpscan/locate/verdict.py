"""Combine the sources into a region per address and per domain (pure: no I/O).

How the sources are weighed, strongest first:

1. the user's ranges file (a hosting provider knows its own space): decides, confidence high;
2. ranges a cloud provider publishes for its own regions (AWS, Azure, Google): high;
3. community lists for Alibaba/Tencent space (ICP-DOMAIN.md §7.2): medium, or low when the list
   only says "outside the mainland" and the registry country has to pick HK or abroad;
4. the registry country (imported RIR file or iptocc, and Team Cymru's country): medium when
   they agree, low when they disagree. It says where the block was registered, not where it
   is used, so a known provider AS whose scope contradicts it (Tencent's international AS on
   CN-registered space, a mainland carrier AS on foreign-registered space) leaves the address
   unknown, and a provider known to mix both (Alibaba, whose ARIN 47.0.0.0/8 is partly
   mainland) makes it low. An AS alone never decides a location.

Every source that disagrees with the decision is recorded as a conflict, never dropped.

Per domain: the regions of all addresses from all views (one region, or ``mixed``). A CNAME into
a CDN whose service serves mainland users from mainland nodes (``mainland_nodes=yes``, e.g.
Alibaba kunlun, Tencent ``.cdn.dnsv1.com.cn``, CloudFront ``.cloudfront.cn``) proves the provider
and that the site is delivered from the mainland, which needs a filing: such a domain is
``mainland`` even when the edge we were handed is offshore (confidence medium, conflict
recorded). A "depends" CDN caps confidence at medium and says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from icpscan.egress import forbidden_reason
from icpscan.locate.asn import AsnRecord
from icpscan.locate.prefixes import IPAddress, PrefixTable, parse_address
from icpscan.locate.ranges import RangeEntry
from icpscan.locate.rdap import RdapRecord
from icpscan.locate.sources import Sources
from icpscan.models import (
    AddressInfo,
    AsnRef,
    Cdn,
    DnsFailure,
    Evidence,
    HostingVerdict,
    Region,
    Resolution,
    ViewSummary,
)

_RANK = {"high": 0, "medium": 1, "low": 2}

# Every network where egress.forbidden_reason can say something (a superset, checked by a
# property test): addresses outside it skip that slow check, which walks ipaddress's lists.
_MAYBE_SPECIAL: PrefixTable[bool] = PrefixTable()
for _network in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",
    # IPv6: Python calls everything outside 2000::/3 reserved; inside it, the special blocks
    "::/3", "4000::/2", "8000::/1", "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20",
):  # fmt: skip
    _MAYBE_SPECIAL.add(_network, True)


def special_reason(ip: IPAddress) -> str | None:
    """egress.forbidden_reason, fast for the common (public) case."""
    if _MAYBE_SPECIAL.lookup(ip) is None:
        return None
    return forbidden_reason(ip)


_OFFSHORE_COUNTRIES = {"HK": Region.HONGKONG, "MO": Region.MACAU, "TW": Region.TAIWAN}
REGION_NAMES = {
    Region.MAINLAND: "mainland China",
    Region.HONGKONG: "Hong Kong",
    Region.MACAU: "Macau",
    Region.TAIWAN: "Taiwan",
    Region.ABROAD: "abroad",
    Region.MIXED: "mixed",
    Region.UNKNOWN: "unknown",
}


def region_of_country(country: str | None) -> Region | None:
    """ISO country code -> Region (CN is the mainland; HK, MO and TW are their own regions)."""
    if not country or len(country) != 2 or country in ("ZZ", "EU", "AP"):
        return None
    if country == "CN":
        return Region.MAINLAND
    return _OFFSHORE_COUNTRIES.get(country, Region.ABROAD)


def weakest(*levels: str) -> str:
    return max(levels, key=_RANK.__getitem__)


def _range_claim(entry: RangeEntry, what: str) -> str:
    where = REGION_NAMES[entry.region] if entry.region else "an unknown location"
    label = f" ({entry.label})" if entry.label else ""
    seed = (
        " [seed snapshot; refresh with icpscan data import-*]"
        if entry.origin.startswith("seed")
        else ""
    )
    return f"{entry.network}{label} is {where} per {what} of {entry.provider}{seed}"


def classify_address(
    address: str,
    *,
    sources: Sources,
    asn: AsnRecord | None = None,
    asn_failure: DnsFailure | None = None,
    rdap: RdapRecord | str | None = None,
) -> AddressInfo:
    """Region of one address from the offline sources (and a Cymru record when given)."""
    try:
        ip = parse_address(address)
    except ValueError:
        return AddressInfo(
            address, 0, Region.UNKNOWN, "high", special="not an IP address",
            evidence=(Evidence("special", f"{address!r} is not an IP address"),),
        )  # fmt: skip
    text = str(ip)
    special = special_reason(ip)
    if special is not None:
        claim = f"{text} is a {special} address: not on the public internet, not looked up"
        return AddressInfo(
            text, ip.version, Region.UNKNOWN, "high", special=special,
            evidence=(Evidence("special", claim),),
        )  # fmt: skip

    evidence: list[Evidence] = []
    user = sources.user_ranges.lookup(ip) if sources.user_ranges is not None else None
    published = sources.clouds.published.lookup(ip)
    listed = sources.clouds.third_party.lookup(ip)
    if user is not None:
        evidence.append(
            Evidence("ranges-file", _range_claim(user[1], "the ranges file, as"), user[1].region)
        )
    if published is not None:
        entry = published[1]
        evidence.append(
            Evidence(entry.source, _range_claim(entry, "the published ranges"), entry.region)
        )
    if listed is not None:
        entry = listed[1]
        if entry.offshore:
            claim = (
                f"{entry.network} is outside the mainland (Hong Kong or overseas) per a "
                f"community list of {entry.provider} space"
            )
            evidence.append(Evidence(entry.source, claim, None))
        else:
            evidence.append(
                Evidence(entry.source, _range_claim(entry, "a community list"), entry.region)
            )

    registry: list[tuple[str, Region | None, str]] = []
    for source, country in sources.country.lookup(ip):
        region = region_of_country(country)
        claim = f"registry country {country}" if country else "no registry country"
        evidence.append(
            Evidence(source, f"{text}: {claim} (where the block is registered)", region)
        )
        registry.append((source, region, country or "?"))
    provider_as = None
    if asn is not None:
        region = region_of_country(asn.country)
        others = f" (also AS{', AS'.join(map(str, asn.asns[1:]))})" if len(asn.asns) > 1 else ""
        claim = (
            f"origin AS{asn.asn}{others} {asn.name or '(name unknown)'}, prefix {asn.prefix}, "
            f"registry {asn.registry} country {asn.country}"
        )
        evidence.append(Evidence("cymru", claim, region))
        provider_as = sources.asn_providers.get(asn.asn) if asn.asn is not None else None
        if provider_as is not None:
            scope = {"mainland": "mainland", "international": "outside-mainland",
                     "mixed": "mixed mainland and overseas"}[provider_as.scope]  # fmt: skip
            evidence.append(
                Evidence(
                    "asn-table", f"AS{provider_as.asn} is {provider_as.provider}, {scope} network"
                )
            )
    elif asn_failure is not None:
        evidence.append(
            Evidence("cymru", f"lookup failed: {asn_failure.error} ({asn_failure.detail})")
        )
    if isinstance(rdap, RdapRecord):
        region = region_of_country(rdap.country)
        holder = f", holder {rdap.holder}" if rdap.holder else ""
        claim = (
            f"network {rdap.name or '?'} ({rdap.handle or '?'}) {rdap.start}-{rdap.end}, "
            f"country {rdap.country or '?'}{holder}"
        )
        evidence.append(Evidence("rdap", claim, region))
        registry.append(("rdap", region, rdap.country or "?"))
    elif rdap is not None:
        evidence.append(Evidence("rdap", f"lookup failed: {rdap}"))

    region, confidence, decided_by, note = _decide(
        user, published, listed, registry, asn, provider_as
    )
    if note:
        evidence.append(Evidence("verdict", note, None))
    dissent = [
        e
        for e in evidence
        if e.region is not None and e.region != region and region != Region.UNKNOWN
    ]
    if dissent:
        names = "; ".join(f"{e.source} says {e.region}" for e in dissent)
        evidence.append(
            Evidence("conflict", f"{text}: {decided_by} decides {region}; {names}", None)
        )
    provider = _provider(user, published, listed, provider_as, asn)
    if provider is None and isinstance(rdap, RdapRecord):
        provider = rdap.holder or rdap.name or None
    return AddressInfo(
        address=text,
        version=ip.version,
        region=region,
        confidence=confidence,
        asn=asn.asn if asn else None,
        asn_name=asn.name if asn else None,
        asn_country=asn.country if asn else None,
        registry=asn.registry if asn else None,
        prefix=asn.prefix if asn else None,
        allocated=asn.allocated if asn else None,
        country=registry[0][2] if registry and registry[0][2] != "?" else None,
        provider=provider,
        evidence=tuple(evidence),
    )


def _decide(
    user: tuple[object, RangeEntry] | None,
    published: tuple[object, RangeEntry] | None,
    listed: tuple[object, RangeEntry] | None,
    registry: list[tuple[str, Region | None, str]],
    asn: AsnRecord | None,
    provider_as: object,
) -> tuple[Region, str, str, str]:
    """(region, confidence, deciding source, note) following the module docstring's order."""
    if user is not None and user[1].region is not None:
        return user[1].region, "high", "ranges-file", ""
    if published is not None and published[1].region is not None:
        return published[1].region, "high", published[1].source, ""
    registry_region = next((r for _s, r, _c in registry if r is not None), None)
    cymru_region = region_of_country(asn.country) if asn else None
    if listed is not None:
        entry = listed[1]
        if entry.region is not None:
            return entry.region, "medium", entry.source, ""
        # Offshore per the list: the registry may still tell HK/Macau/Taiwan from abroad.
        for candidate in (registry_region, cymru_region):
            if candidate is not None and candidate != Region.MAINLAND:
                return candidate, "low", f"{entry.source} + registry", ""
        note = "outside the mainland per the community list; no source says where: abroad"
        return Region.ABROAD, "low", entry.source, note
    region = registry_region or cymru_region
    source = next((s for s, r, _c in registry if r is not None), "cymru")
    if region is None:
        return Region.UNKNOWN, "low", "none", "no source knows this address"
    confidence = "medium"
    if registry_region and cymru_region and registry_region != cymru_region:
        confidence = "low"
    scope = getattr(provider_as, "scope", None)
    provider = getattr(provider_as, "provider", "")
    asn_number = getattr(provider_as, "asn", 0)
    if scope == "mainland" and region != Region.MAINLAND:
        note = (
            f"AS{asn_number} ({provider}) announces mainland space but the block is registered "
            f"{region}: the registry country cannot be trusted here; region unknown"
        )
        return Region.UNKNOWN, "low", source, note
    if scope == "international" and region == Region.MAINLAND:
        note = (
            f"AS{asn_number} ({provider}) is an international network but the block is "
            "registered in China: the registry country cannot be trusted here; region unknown"
        )
        return Region.UNKNOWN, "low", source, note
    if scope == "mixed":
        note = (
            f"AS{asn_number} ({provider}) announces both mainland and overseas space; only the "
            f"registry country ({region}) decides, so confidence is low"
        )
        return region, "low", source, note
    return region, confidence, source, ""


def _provider(
    user: tuple[object, RangeEntry] | None,
    published: tuple[object, RangeEntry] | None,
    listed: tuple[object, RangeEntry] | None,
    provider_as: object,
    asn: AsnRecord | None,
) -> str | None:
    for hit in (user, published, listed):
        if hit is not None and hit[1].provider:
            return hit[1].provider
    if provider_as is not None:
        return str(getattr(provider_as, "provider", "")) or None
    if asn is not None and asn.name:
        return asn.name
    return None


# --- per domain ----------------------------------------------------------------------------


def _combine(infos: Sequence[AddressInfo]) -> tuple[Region, str]:
    """Region and confidence of a set of addresses (special ones are ignored)."""
    public = [i for i in infos if i.special is None]
    known = [i for i in public if i.region != Region.UNKNOWN]
    if not known:
        return Region.UNKNOWN, "low"
    regions = list(dict.fromkeys(i.region for i in known))
    region = regions[0] if len(regions) == 1 else Region.MIXED
    confidence = weakest(*(i.confidence for i in known))
    if len(known) < len(public):
        confidence = weakest(confidence, "medium")
    return region, confidence


def _errors(resolution: Resolution) -> list[DnsFailure]:
    """Failures that matter: not a missing AAAA or NS when the domain has addresses."""
    kept = []
    for failure in resolution.failures:
        if failure.error == "no_answer" and (resolution.addresses or failure.rtype == "NS"):
            continue
        if failure.rtype == "NS" and resolution.addresses:
            continue  # NS is context; its failure does not make the verdict less sure
        kept.append(failure)
    return kept


def _ordered_addresses(resolutions: Sequence[Resolution]) -> list[str]:
    every = [a for r in resolutions for a in r.addresses]
    v4 = [a for a in every if ":" not in a]
    v6 = [a for a in every if ":" in a]
    return list(dict.fromkeys([*v4, *v6]))


def decide(
    domain: str,
    resolutions: Sequence[Resolution],
    infos: Mapping[str, AddressInfo],
    *,
    sources: Sources,
    extra_errors: Sequence[DnsFailure] = (),
) -> HostingVerdict:
    """The hosting verdict of one domain from its resolutions (one per view) and address info."""
    addresses = _ordered_addresses(resolutions)
    cnames = list(dict.fromkeys(c for r in resolutions for c in r.cnames))
    address_info = [infos[a] for a in addresses if a in infos]
    errors = [f for r in resolutions for f in _errors(r)] + list(extra_errors)
    evidence: list[Evidence] = []

    views: dict[str, ViewSummary] = {}
    for resolution in resolutions:
        view_infos = [infos[a] for a in resolution.addresses if a in infos]
        view_region, view_confidence = _combine(view_infos)
        view_cdn = sources.cdn.match_chain(resolution.cnames)
        if view_cdn is not None:  # the same CDN rule as for the domain, without its evidence
            view_region, _ = _weigh_cdn(view_cdn, view_region, view_confidence, view_infos, [])
        views[resolution.view] = ViewSummary(
            view_region, resolution.addresses, resolution.cnames, resolution.subnet
        )
        if resolution.name != resolution.domain and resolution.addresses:
            evidence.append(
                Evidence(
                    "dns",
                    f"{resolution.domain} has no address; used {resolution.name} "
                    f"({resolution.view} view)",
                )
            )
    if len({v.region for v in views.values()}) > 1:
        seen = "; ".join(
            f"{name} view: {v.region} ({', '.join(v.addresses) or 'no address'})"
            for name, v in views.items()
        )
        evidence.append(Evidence("views", f"vantages see different hosting: {seen}"))

    for info in address_info:
        evidence.extend(
            e
            if e.claim.startswith(info.address)
            else Evidence(e.source, f"{info.address}: {e.claim}", e.region)
            for e in info.evidence
        )

    region, confidence = _combine(address_info)
    if not addresses:
        reasons = "; ".join(f"{f.name} {f.rtype}: {f.error}" for f in errors) or "no records"
        evidence.append(Evidence("dns", f"no address from any view ({reasons})"))
    elif all(i.special for i in address_info):
        specials = ", ".join(f"{i.address} ({i.special})" for i in address_info)
        evidence.append(Evidence("special", f"resolves only to non-public addresses: {specials}"))

    cdn = sources.cdn.match_chain(cnames)
    if cdn is not None:
        region, confidence = _weigh_cdn(cdn, region, confidence, address_info, evidence)

    asns = list(dict.fromkeys(AsnRef(i.asn, i.asn_name) for i in address_info if i.asn is not None))
    providers = Counter(i.provider for i in address_info if i.provider)
    provider = cdn.provider if cdn else (providers.most_common(1)[0][0] if providers else None)
    return HostingVerdict(
        domain=domain,
        region=region,
        addresses=tuple(addresses),
        cnames=tuple(cnames),
        asns=tuple(asns),
        provider=provider,
        cdn=cdn,
        confidence=confidence,
        evidence=tuple(evidence),
        errors=tuple(errors),
        views=views,
        ns=tuple(dict.fromkeys(n for r in resolutions for n in r.ns)),
        address_info=tuple(address_info),
        answers=tuple(a for r in resolutions for a in r.answers),
    )


def _weigh_cdn(
    cdn: Cdn,
    region: Region,
    confidence: str,
    infos: Sequence[AddressInfo],
    evidence: list[Evidence],
) -> tuple[Region, str]:
    regions = {i.region for i in infos if i.special is None and i.region != Region.UNKNOWN}
    via = f"CNAME {cdn.cname} is {cdn.name} ({cdn.provider}, suffix {cdn.suffix})"
    if cdn.mainland_nodes == "yes":
        claim = f"{via}: serves mainland users from mainland nodes, which needs an ICP filing"
        evidence.append(Evidence("cdn-cname", claim, Region.MAINLAND))
        if region == Region.MAINLAND or Region.MAINLAND in regions:
            return region, confidence
        seen = ", ".join(sorted(str(r) for r in regions)) or "no located address"
        evidence.append(
            Evidence(
                "conflict",
                f"the addresses seen from this vantage say {seen}; the CDN's mainland service "
                "decides: mainland (the edge handed to us is not the one mainland visitors get)",
            )
        )
        return Region.MAINLAND, "medium" if regions else "low"
    if cdn.mainland_nodes == "depends":
        claim = (
            f"{via}: mainland or offshore delivery depends on the customer's configuration; "
            "the addresses decide (a mainland vantage, --vantage mainland, shows what mainland "
            "visitors get)"
        )
        evidence.append(Evidence("cdn-cname", claim))
        return region, weakest(confidence, "medium")
    evidence.append(Evidence("cdn-cname", f"{via}: no mainland nodes"))
    return region, confidence
