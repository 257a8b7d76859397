"""How a sandbox world changes over time: ``generate(..., epoch=N)`` is the same world later.

Longitudinal research compares scans of the same domains taken months apart. Epoch 0 is the
world :func:`~icpscan.sandbox.scenario.generate` has always made (byte-identical); each later
epoch changes, in every block of 100 sites, a few more of them, and keeps the earlier changes:

* ``number_added`` — a mainland site that showed no number now shows its filing;
* ``number_removed`` — a mainland site drops its number from the footer;
* ``number_changed`` — a site shows a new filing number (its entity re-filed);
* ``moved_into_mainland`` — a site leaves a Hong Kong host for the mainland side of the same
  provider (Alibaba, Tencent, AWS) or for China Telecom;
* ``moved_out_of_mainland`` — the reverse;
* ``cdn_changed`` — a site switches mainland CDN.

Everything else about a changed site stays as it was (its name, page template and numbers are
drawn as before); truth.jsonl of the epoch states the new ground truth, so a diff of two scans
can be checked exactly against the difference of two truths.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from functools import lru_cache

from icpscan.models import Region
from icpscan.sandbox import plan as pl

CHANGES: tuple[tuple[str, int], ...] = (
    ("number_added", 2),
    ("number_removed", 2),
    ("number_changed", 2),
    ("moved_into_mainland", 2),
    ("moved_out_of_mainland", 1),
    ("cdn_changed", 1),
)
INTO_MAINLAND = {
    "pool:alibaba-hk": "alibaba-cn",
    "pool:tencent-hk": "tencent-cn",
    "pool:aws-hk": "aws-cn",
    "pool:hkt": "chinatelecom",
}
OUT_OF_MAINLAND = {
    "pool:alibaba-cn": "alibaba-hk",
    "pool:alibaba-cn-arin": "alibaba-hk",
    "pool:tencent-cn": "tencent-hk",
    "pool:aws-cn": "aws-hk",
    "pool:chinatelecom": "hkt",
    "pool:chinaunicom": "hkt",
}
CDN_SWITCH = {
    "cdn:aliyun": "tencent-cn",
    "cdn:tencent-cn": "aliyun",
    "cdn:wangsu": "aliyun",
    "cdn:baidu": "wangsu",
}
SHOWS_NUMBER = frozenset({"filing_site", "filing_entity", "filing_only"})


def _stable(slot: Mapping[str, str]) -> bool:
    """A plain healthy page: changing one trait of it changes nothing else a scan sees."""
    return (
        slot.get("role", "normal") == "normal"
        and pl.content(slot)
        and slot.get("http") == "ok"
        and slot.get("placement") == "footer"
        and slot.get("traps") != "tutorial"  # quoted examples must stay next to a number
    )


def _change(kind: str, slot: Mapping[str, str], epoch: int) -> dict[str, str] | None:
    """The trait overrides that make ``kind`` happen to ``slot``, or None if it cannot."""
    if not _stable(slot):
        return None
    hosting, numbers = slot["hosting"], slot["numbers"]
    mainland = pl.hosting_region(hosting) is Region.MAINLAND and hosting.startswith("pool:")
    if kind == "number_added" and numbers == "none" and mainland:
        return {"numbers": "filing_site"}
    if kind == "number_removed" and numbers in SHOWS_NUMBER and mainland:
        return {"numbers": "none"}
    if kind == "number_changed" and numbers == "filing_site":
        return {"renumber": str(epoch)}
    if kind == "moved_into_mainland" and hosting in INTO_MAINLAND:
        return {"moved_to": INTO_MAINLAND[hosting]}
    if kind == "moved_out_of_mainland" and hosting in OUT_OF_MAINLAND:
        return {"moved_to": OUT_OF_MAINLAND[hosting]}
    if kind == "cdn_changed" and hosting in CDN_SWITCH:
        return {"cdn_to": CDN_SWITCH[hosting]}
    return None


@lru_cache(maxsize=256)
def block_changes(
    seed: int, block: int, profile: str, epoch: int
) -> Mapping[int, Mapping[str, str]]:
    """Position in block -> trait overrides (with ``epoch_change``), cumulative over epochs."""
    if epoch <= 0:
        return {}
    changed = dict(block_changes(seed, block, profile, epoch - 1))
    slots = pl.block_plan(seed, block, profile)
    rng = random.Random(f"icpscan-epoch/{seed}/{profile}/{block}/{epoch}")
    order = list(range(len(slots)))
    rng.shuffle(order)
    for kind, times in CHANGES:
        for _ in range(times):
            for pos in order:
                if pos in changed:
                    continue
                overrides = _change(kind, slots[pos], epoch)
                if overrides is not None:
                    changed[pos] = {**overrides, "epoch_change": kind}
                    break
    return changed


def evolved_slot(seed: int, index: int, profile: str, epoch: int = 0) -> pl.Slot:
    """A site's traits at ``epoch`` (the plan's own slot at epoch 0)."""
    slot = pl.slot_of(seed, index, profile)
    if epoch <= 0:
        return slot
    overrides = block_changes(seed, index // pl.BLOCK, profile, epoch).get(index % pl.BLOCK)
    return {**slot, **overrides} if overrides else slot
