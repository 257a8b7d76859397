"""Which site exercises what: seeded per-block decks of site traits.

Sites come in blocks of :data:`BLOCK`. For each block and each trait dimension (hosting, HTTP
behaviour, numbers shown, footer style, encoding, ...) a deck lists the values that must occur
at least once per block and the weights the remaining slots are drawn with; values are placed
only where they are exercised (a footer style on a page nobody can fetch teaches nothing). A
site's traits depend only on (seed, block, profile), so site *i* is the same in a 300-site and
a 100,000-site scenario, and every category occurs in every full block.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from icpscan.models import Region
from icpscan.sandbox.internet import CDNS, POOLS

BLOCK = 100
PROFILES = ("realistic", "bench", "faults")

Slot = Mapping[str, str]

# ---------------------------------------------------------------------------------------------
# Trait values

POOL_HOSTINGS = tuple(f"pool:{k}" for k in POOLS if k != "provider-idc")
CDN_HOSTINGS = tuple(f"cdn:{k}" for k in CDNS)
DNS_FAULT_HOSTINGS = (
    "dns:nxdomain",
    "dns:servfail",
    "dns:refused",
    "dns:no_answer",
    "dns:timeout",
    "dns:truncate",
)
SPECIAL_HOSTINGS = (
    "geodns",
    "mixed",
    "v6only",
    "dualstack",
    "www_only",
    "many_a",
    "long_chain",
    "cname_loop",
)
UNRESOLVABLE = frozenset({"cname_loop", *DNS_FAULT_HOSTINGS} - {"dns:truncate"})

HTTP_REACHED = (
    "ok",
    "http_only",
    "https_only",
    "apex_to_www",
    "same_host_chain",
    "cross_host_same_reg",
    "cross_host_other_reg",
    "meta_refresh",
    "js_redirect",
    "status_404",
    "status_500_bare",
    "status_503_bare",
    "slow",
    "trickle",
    "oversized",
    "cert_expired_fallback",
    "cert_self_signed_fallback",
    "cert_wrong_name_fallback",
    "cert_stall_fallback",
)
HTTP_FAILED = (
    "reset",
    "drop",
    "stall",
    "refused",
    "tarpit",
    "redirect_loop",
    "cert_expired_nofallback",
    "cert_self_signed_nofallback",
    "cert_wrong_name_nofallback",
    "cert_stall_nofallback",
)
HTTP_BARE = frozenset({"status_500_bare", "status_503_bare"})
HTTP_NEEDS_WWW = frozenset({"apex_to_www", "redirect_loop"})

NUMBERS_REQUIRED = (
    "filing_site",
    "filing_entity",
    "filing_only",
    "filing_appsuffix:A",
    "filing_appsuffix:X",
    "licence_and_filing",
    "licence_index",
    "joined_psb_licence",
    "telecom_provincial",
    "telecom_cross:B2",
    "telecom_cross:A2.B1.B2",
    "telecom_cross:B1.B2",
    "telecom_jv",
    "telecom_only",
    "alt_prefix:川",
    "alt_prefix:贵",
    "alt_prefix:云",
    "alt_prefix:甘",
    "alt_prefix:秦",
    "placeholder_icp",
    "placeholder_psb",
    "invalid_icp:invalid_6_digits",
    "invalid_icp:invalid_7_digits",
    "invalid_icp:invalid_9_digits",
    "invalid_icp:invalid_11_digits",
    "invalid_icp:invalid_future_year",
    "invalid_icp:invalid_unknown_prefix",
    "invalid_psb",
    "psb_old12",
    "psb_old15",
    "psb_split:51",
    "psb_split:52",
    "psb_split:62",
    "psb_mismatch",
    "psb_no_prefix",
    "psb_swapped",
    "psb_href_only",
    "lookalike_only",
    "lookalike_and_real",
    "none",
)
# numbers values whose first ICP item is an indexed website number (-N) in the footer
MAIN_INDEXED = frozenset(
    {
        "filing_site",
        "filing_only",
        "placeholder_psb",
        "invalid_psb",
        "psb_old12",
        "psb_old15",
        "psb_split:51",
        "psb_split:52",
        "psb_split:62",
        "psb_mismatch",
        "psb_no_prefix",
        "psb_swapped",
        "psb_href_only",
        "lookalike_and_real",
        "telecom_provincial",
        "telecom_cross:B2",
        "telecom_cross:A2.B1.B2",
        "telecom_cross:B1.B2",
        "alt_prefix:川",
        "alt_prefix:贵",
        "alt_prefix:云",
        "alt_prefix:甘",
        "alt_prefix:秦",
        "stolen",
    }
)
MAIN_ENTITY = frozenset({"filing_entity", "licence_and_filing", "telecom_jv", "entity_shared"})
HAS_MAIN_ICP = (
    MAIN_INDEXED | MAIN_ENTITY | {"licence_index", "filing_appsuffix:A", "filing_appsuffix:X"}
)
SIMPLE_NUMBERS = frozenset({"filing_site", "filing_entity", "filing_only", "licence_and_filing"})
# numbers values whose PSB takes the psb_style / psb_link traits
STYLED_PSB = frozenset(
    {
        "filing_site",
        "filing_entity",
        "licence_and_filing",
        "licence_index",
        "telecom_provincial",
        "telecom_only",
        "psb_old12",
        "psb_old15",
        "psb_split:51",
        "psb_split:52",
        "psb_split:62",
        "psb_mismatch",
        "invalid_psb",
        "placeholder_psb",
        "lookalike_and_real",
    }
)
BIG5_NUMBERS = frozenset({"none", "filing_site", "filing_entity"})

ICP_STYLES = (
    "plain",
    "spaced",
    "spaced_suffix",
    "space_before_index",
    "fullwidth",
    "fullwidth_letters",
    "no_hao",
    "index_before_hao",
    "lowercase",
    "split_tags",
    "entities",
    "nbsp",
    "year_range",
)
INDEX_STYLES = frozenset({"spaced_suffix", "space_before_index", "index_before_hao"})
ICP_LINKS = ("current", "stale_miibeian", "stale_miitbeian", "none")
PSB_STYLES = ("plain", "spaced", "spaced_digits", "label_hao")
PSB_LINKS = ("beian_gov", "mps", "none")
LABELS = (
    "",
    "备案号：",
    "ICP备案号：",
    "网站备案：",
    "ICP备案/许可证号：",
    "中华人民共和国网站备案号：",
    "信息产业部备案号：",
    "国家信息产业部",
    "ICP证：",
)
PLACEMENTS = ("footer", "script_only", "comment_only", "alt_only", "title_only", "meta_only")
TRAPS = (
    "none",
    "tutorial",
    "phone_date_order",
    "iterative_closest_point",
    "lowercase_prose",
    "d3_licence",
    "wenhua_licence",
)
SIGNALS = ("none", "ecommerce", "forum", "news")

# encoding value -> (codec key, <meta charset>, Content-Type charset)
ENCODINGS: dict[str, tuple[str, str | None, str | None]] = {
    "utf-8:both": ("utf-8", "utf-8", "utf-8"),
    "utf-8:header": ("utf-8", None, "utf-8"),
    "utf-8:meta": ("utf-8", "utf-8", None),
    "utf-8:none": ("utf-8", None, None),
    "utf-8:wrong-header": ("utf-8", "utf-8", "gbk"),
    "gbk:gb2312-meta": ("gbk", "gb2312", None),
    "gbk:both": ("gbk", "gbk", "gbk"),
    "gbk:header": ("gbk", None, "gbk"),
    "gbk:none": ("gbk", None, None),
    "gbk:wrong-header": ("gbk", "gbk", "utf-8"),
    "gbk:wrong-meta": ("gbk", "utf-8", None),
    "gb18030:both": ("gb18030", "gb18030", "gb18030"),
    "gb18030:header": ("gb18030", None, "gb18030"),
    "big5:both": ("big5", "big5", "big5"),
    "big5:meta": ("big5", "big5", None),
    "big5:none": ("big5", None, None),
}

ROLES = (
    "normal",
    "stolen_victim",
    "stolen_thief",
    "entity_a",
    "entity_b",
    "redirect_src",
    "redirect_dst",
    "provider_match",
    "provider_other_number",
    "provider_moved",
    "provider_unlisted",
    "provider_empty_number",
)
_OK_FOOTER = {"http": "ok", "placement": "footer"}
ROLE_FORCES: dict[str, dict[str, str]] = {
    "normal": {},
    "stolen_victim": {"hosting": "pool:alibaba-cn", "numbers": "stolen", **_OK_FOOTER},
    "stolen_thief": {"hosting": "pool:alibaba-hk", "numbers": "stolen", **_OK_FOOTER},
    "entity_a": {"hosting": "pool:chinatelecom", "numbers": "entity_shared", **_OK_FOOTER},
    "entity_b": {"hosting": "pool:alibaba-cn-arin", "numbers": "entity_shared", **_OK_FOOTER},
    "redirect_src": {"hosting": "pool:tencent-cn", "http": "to_partner", "numbers": "none"},
    "redirect_dst": {"hosting": "pool:tencent-cn", "numbers": "filing_site", **_OK_FOOTER},
    "provider_match": {"hosting": "provider", "numbers": "filing_site", **_OK_FOOTER},
    "provider_other_number": {"hosting": "provider", "numbers": "filing_site", **_OK_FOOTER},
    "provider_moved": {"hosting": "pool:chinaunicom", "numbers": "filing_site", **_OK_FOOTER},
    "provider_unlisted": {"hosting": "provider", "numbers": "filing_site", **_OK_FOOTER},
    "provider_empty_number": {"hosting": "provider", "numbers": "filing_site", **_OK_FOOTER},
}
PARTNERS = {
    "stolen_victim": "stolen_thief",
    "stolen_thief": "stolen_victim",
    "entity_a": "entity_b",
    "entity_b": "entity_a",
    "redirect_src": "redirect_dst",
    "redirect_dst": "redirect_src",
}

# ---------------------------------------------------------------------------------------------
# Coarse region of a hosting value (for filler weights and compatibility)


def hosting_region(value: str) -> Region:
    if value == "provider":
        return Region.MAINLAND
    if value.startswith("pool:"):
        return POOLS[value[5:]].region
    if value.startswith("cdn:"):
        return Region.MAINLAND if CDNS[value[4:]].mainland else Region.ABROAD
    if value in UNRESOLVABLE:
        return Region.UNKNOWN
    if value == "mixed":
        return Region.MIXED
    if value == "geodns":
        return Region.ABROAD
    return Region.MAINLAND  # v6only/dualstack/www_only/many_a/long_chain/truncate: mainland pools


def resolvable(slot: Slot) -> bool:
    return slot.get("hosting", "") not in UNRESOLVABLE


def reached(slot: Slot) -> bool:
    return resolvable(slot) and slot.get("http", "ok") not in HTTP_FAILED


def content(slot: Slot) -> bool:
    """The site's own homepage template is what a scan ends up reading."""
    return reached(slot) and slot.get("http") not in HTTP_BARE and slot.get("http") != "to_partner"


# ---------------------------------------------------------------------------------------------
# Compatibility: may ``value`` of ``dim`` go into a slot whose earlier traits are ``slot``?


def _compatible(dim: str, value: str, slot: Slot) -> bool:
    numbers = slot.get("numbers", "")
    if dim == "http":
        if not resolvable(slot):
            return value == "ok"
        if slot.get("hosting") == "www_only":
            return value == "ok"
        return not (value in HTTP_NEEDS_WWW and slot.get("hosting") == "many_a")
    if dim == "numbers":
        return content(slot) or value == "none"
    if dim == "placement":
        return value == "footer" or (content(slot) and numbers in SIMPLE_NUMBERS)
    if dim == "icp_style":
        if value == "plain":
            return True
        if not (content(slot) and slot.get("placement") == "footer" and numbers in HAS_MAIN_ICP):
            return False
        return value not in INDEX_STYLES or numbers in MAIN_INDEXED
    if dim in ("icp_link", "label"):
        ok_default = value in ("current", "")
        return ok_default or (
            content(slot) and slot.get("placement") == "footer" and numbers in HAS_MAIN_ICP
        )
    if dim in ("psb_style", "psb_link"):
        return value in ("plain", "beian_gov") or (content(slot) and numbers in STYLED_PSB)
    if dim == "traps":
        if value == "none":
            return True
        if not content(slot):
            return False
        return value != "tutorial" or (
            numbers in HAS_MAIN_ICP and slot.get("placement") == "footer"
        )
    if dim == "signals":
        return value == "none" or content(slot)
    if dim == "encoding":
        if value != "utf-8:both" and not content(slot):
            return False
        region = hosting_region(slot.get("hosting", ""))
        if value.startswith("big5"):
            return (
                region in (Region.HONGKONG, Region.MACAU, Region.TAIWAN)
                and numbers in BIG5_NUMBERS
                and slot.get("traps") == "none"
                and slot.get("signals") == "none"
                and slot.get("icp_style") in ("plain", "split_tags", "spaced", "nbsp")
            )
        if value.startswith(("gbk", "gb18030")):
            return region not in (Region.HONGKONG, Region.MACAU, Region.TAIWAN, Region.ABROAD)
        return True
    return True


# ---------------------------------------------------------------------------------------------
# Decks per profile


@dataclass(frozen=True)
class Deck:
    required: tuple[tuple[str, int], ...]
    filler: Callable[[Slot], tuple[tuple[str, float], ...]]


def _once(values: tuple[str, ...], times: int = 1) -> tuple[tuple[str, int], ...]:
    return tuple((v, times) for v in values)


def _const(*weights: tuple[str, float]) -> Callable[[Slot], tuple[tuple[str, float], ...]]:
    return lambda _slot: weights


_MAINLAND_HOSTING = (
    ("pool:chinatelecom", 10.0),
    ("pool:chinaunicom", 6.0),
    ("pool:chinamobile", 3.0),
    ("pool:alibaba-cn", 10.0),
    ("pool:alibaba-cn-arin", 9.0),
    ("pool:tencent-cn", 8.0),
    ("pool:baidu", 2.0),
    ("pool:aws-cn", 2.0),
    ("cdn:aliyun", 4.0),
    ("cdn:tencent-cn", 3.0),
    ("cdn:wangsu", 2.0),
    ("cdn:baidu", 1.0),
    ("dualstack", 3.0),
)
_OFFSHORE_HOSTING = (
    ("pool:alibaba-hk", 4.0),
    ("pool:tencent-hk", 3.0),
    ("pool:aws-hk", 2.0),
    ("pool:hkt", 2.0),
    ("pool:hk-university", 1.0),
    ("pool:ctm-macau", 1.0),
    ("pool:hinet", 2.0),
    ("pool:tanet", 1.0),
    ("pool:us-hosting", 4.0),
    ("pool:eu-hosting", 2.0),
    ("pool:jp-hosting", 1.0),
    ("pool:google", 1.0),
    ("cdn:cloudflare", 4.0),
    ("cdn:akamai", 1.0),
    ("cdn:fastly", 1.0),
    ("cdn:tencent-intl", 1.0),
)


def _numbers_filler(slot: Slot) -> tuple[tuple[str, float], ...]:
    region = hosting_region(slot.get("hosting", ""))
    if region in (Region.HONGKONG, Region.MACAU, Region.TAIWAN, Region.ABROAD):
        return (
            ("none", 65.0),
            ("filing_site", 20.0),
            ("filing_entity", 10.0),
            ("lookalike_only", 3.0),
        )
    return (
        ("filing_site", 50.0),
        ("filing_entity", 14.0),
        ("filing_only", 10.0),
        ("licence_and_filing", 4.0),
        ("telecom_provincial", 3.0),
        ("none", 9.0),
        ("placeholder_icp", 2.0),
        ("psb_split:51", 1.0),
        ("psb_split:62", 1.0),
        ("lookalike_and_real", 1.0),
    )


def _encoding_filler(slot: Slot) -> tuple[tuple[str, float], ...]:
    region = hosting_region(slot.get("hosting", ""))
    if region in (Region.HONGKONG, Region.MACAU, Region.TAIWAN):
        return (
            ("utf-8:both", 60.0),
            ("utf-8:meta", 15.0),
            ("big5:both", 15.0),
            ("big5:meta", 10.0),
        )
    if region is Region.ABROAD:
        return (("utf-8:both", 70.0), ("utf-8:meta", 20.0), ("utf-8:header", 10.0))
    return (
        ("utf-8:both", 45.0),
        ("utf-8:meta", 18.0),
        ("utf-8:header", 5.0),
        ("utf-8:none", 3.0),
        ("gbk:gb2312-meta", 10.0),
        ("gbk:both", 8.0),
        ("gbk:header", 4.0),
        ("gb18030:both", 4.0),
        ("gbk:wrong-header", 1.0),
        ("utf-8:wrong-header", 1.0),
        ("gbk:none", 1.0),
    )


_FOOTER_DECKS: dict[str, Deck] = {
    "placement": Deck(_once(PLACEMENTS[1:]), _const(("footer", 1.0))),
    "icp_style": Deck(
        _once(ICP_STYLES[1:]),
        _const(
            ("plain", 70.0), ("spaced", 5.0), ("nbsp", 5.0), ("split_tags", 5.0), ("no_hao", 3.0)
        ),
    ),
    "icp_link": Deck(
        _once(ICP_LINKS),
        _const(
            ("current", 62.0), ("none", 32.0), ("stale_miitbeian", 4.0), ("stale_miibeian", 2.0)
        ),
    ),
    "label": Deck(
        _once(LABELS[1:]),
        _const(("", 50.0), ("备案号：", 20.0), ("ICP备案号：", 20.0), ("网站备案：", 10.0)),
    ),
    "psb_style": Deck(_once(PSB_STYLES), _const(("plain", 60.0), ("spaced", 40.0))),
    "psb_link": Deck(_once(PSB_LINKS), _const(("beian_gov", 55.0), ("mps", 20.0), ("none", 25.0))),
}


def _profile_decks(profile: str) -> dict[str, Deck]:
    if profile == "realistic":
        return {
            "role": Deck(_once(ROLES[1:]), _const(("normal", 1.0))),
            "hosting": Deck(
                _once(POOL_HOSTINGS + CDN_HOSTINGS + SPECIAL_HOSTINGS + DNS_FAULT_HOSTINGS),
                _const(*_MAINLAND_HOSTING, *_OFFSHORE_HOSTING[:9], ("mixed", 1.0)),
            ),
            "http": Deck(
                _once(HTTP_REACHED[1:] + HTTP_FAILED),
                _const(
                    ("ok", 85.0), ("apex_to_www", 6.0), ("http_only", 4.0), ("same_host_chain", 2.0)
                ),
            ),
            "numbers": Deck(_once(NUMBERS_REQUIRED), _numbers_filler),
            **_FOOTER_DECKS,
            "traps": Deck(_once(TRAPS[1:]), _const(("none", 88.0), ("phone_date_order", 12.0))),
            "signals": Deck(
                _once(SIGNALS[1:], 2),
                _const(("none", 85.0), ("ecommerce", 5.0), ("forum", 5.0), ("news", 5.0)),
            ),
            "encoding": Deck(_once(tuple(ENCODINGS)), _encoding_filler),
        }
    if profile == "bench":
        return {
            "role": Deck((), _const(("normal", 1.0))),
            "hosting": Deck(
                (("dns:nxdomain", 1),),
                _const(*_MAINLAND_HOSTING, *_OFFSHORE_HOSTING[:12]),
            ),
            "http": Deck(
                (("refused", 1), ("drop", 1), ("reset", 1), ("status_500_bare", 1)),
                _const(
                    ("ok", 90.0),
                    ("apex_to_www", 4.0),
                    ("same_host_chain", 2.0),
                    ("http_only", 2.0),
                    ("cross_host_same_reg", 1.0),
                    ("meta_refresh", 1.0),
                ),
            ),
            "numbers": Deck((), _numbers_filler),
            **{k: Deck((), d.filler) for k, d in _FOOTER_DECKS.items()},
            "traps": Deck((), _const(("none", 1.0))),
            "signals": Deck((), _const(("none", 90.0), ("ecommerce", 5.0), ("news", 5.0))),
            "encoding": Deck((), _encoding_filler),
        }
    if profile == "faults":
        return {
            "role": Deck((), _const(("normal", 1.0))),
            "hosting": Deck(
                _once((*DNS_FAULT_HOSTINGS, "cname_loop", "long_chain", "many_a", "www_only"), 3),
                _const(*_MAINLAND_HOSTING, *_OFFSHORE_HOSTING[:9]),
            ),
            "http": Deck(
                _once(HTTP_REACHED[1:] + HTTP_FAILED, 2),
                _const(("ok", 1.0)),
            ),
            "numbers": Deck(_once(NUMBERS_REQUIRED), _numbers_filler),
            **_FOOTER_DECKS,
            "traps": Deck(_once(TRAPS[1:]), _const(("none", 1.0))),
            "signals": Deck((), _const(("none", 1.0))),
            "encoding": Deck(_once(tuple(ENCODINGS)), _encoding_filler),
        }
    raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")


ORDER = (
    "role",
    "hosting",
    "http",
    "numbers",
    "placement",
    "icp_style",
    "icp_link",
    "label",
    "psb_style",
    "psb_link",
    "traps",
    "signals",
    "encoding",
)


def _weighted(rng: random.Random, options: list[tuple[str, float]]) -> str:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights)[0]


@lru_cache(maxsize=64)
def block_plan(seed: int, block: int, profile: str) -> tuple[Slot, ...]:
    """The traits of the BLOCK sites of one block (cached: neighbours share it)."""
    decks = _profile_decks(profile)
    rng = random.Random(f"icpscan-plan/{seed}/{profile}/{block}")
    slots: list[dict[str, str]] = [{} for _ in range(BLOCK)]
    for dim in ORDER:
        for slot in slots:
            forced = ROLE_FORCES.get(slot.get("role", "normal"), {}).get(dim)
            if forced is not None:
                slot[dim] = forced
        free = [k for k, slot in enumerate(slots) if dim not in slot]
        rng.shuffle(free)
        deck = decks[dim]
        for value, count in deck.required:
            for _ in range(count):
                for pos_index, pos in enumerate(free):
                    if _compatible(dim, value, slots[pos]):
                        slots[pos][dim] = value
                        del free[pos_index]
                        break
        for pos in free:
            options = [
                (v, w) for v, w in deck.filler(slots[pos]) if _compatible(dim, v, slots[pos])
            ]
            slots[pos][dim] = _weighted(rng, options) if options else _fallback(dim)
    return tuple(slots)


def _fallback(dim: str) -> str:
    return {
        "numbers": "none",
        "placement": "footer",
        "icp_style": "plain",
        "icp_link": "current",
        "label": "",
        "psb_style": "plain",
        "psb_link": "beian_gov",
        "traps": "none",
        "signals": "none",
        "encoding": "utf-8:both",
        "http": "ok",
    }[dim]


def slot_of(seed: int, index: int, profile: str) -> Slot:
    return block_plan(seed, index // BLOCK, profile)[index % BLOCK]


def partner_index(seed: int, index: int, profile: str) -> int | None:
    """The other site of a pair role (stolen number, shared entity, cross-domain redirect)."""
    role = slot_of(seed, index, profile).get("role", "normal")
    wanted = PARTNERS.get(role)
    if wanted is None:
        return None
    block = index // BLOCK
    for k, slot in enumerate(block_plan(seed, block, profile)):
        if slot.get("role") == wanted:
            return block * BLOCK + k
    return None
