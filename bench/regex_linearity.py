"""Every regular expression icpscan runs on crawled content, fed 1/2/4/8 MB adversarial inputs.

Run: /work/venv/bin/python bench/regex_linearity.py [--sizes 1,2,4,8] [--quick]

Crawled pages are hostile: a pattern that backtracks can be made to take quadratic time or
worse by a page built for it. This script finds every compiled pattern in the modules that read
crawled bytes (extraction, charset sniffing, the crawl's redirect detection and header facts,
the report's escaping), builds near-match inputs for each from the pattern's own literals (the
literal repeated; the literal followed by a long run of digits, spaces, quotes, backslashes,
letters, "<", "-" or Han characters; all its literals joined and repeated) and times a full
``finditer`` over each (``match`` for the few patterns only ever used that way); every input
family is probed at 64 KB and the two worst go on to every size. It then does the same for
the entry points on whole pages (``extract``, ``find_html_redirect``, ``decode``). It prints
milliseconds per MB at each size and the growth of the per-MB time from the smallest to the
largest input: about 1.0 is linear. A case is flagged SUPERLINEAR (and the script exits 1) when
its per-MB time grows by more than 1.5x at each of the last two doublings (a quadratic pattern
doubles it at every one; a shared machine's noise and the step a string makes when it outgrows
the CPU cache do not repeat), or passes 5 s per MB. A size that took over 20 s stops the bigger
ones (growth is then judged from the smallest to the largest size measured, limit 2.0).
Half a minute to several minutes on the 2-core machine.

Times are the best of two runs; the machine is shared, so treat small differences as noise.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from re import _parser as sre_parse  # type: ignore[attr-defined]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODULES = (
    "icpscan.extract.numbers",
    "icpscan.extract.page",
    "icpscan.extract.signals",
    "icpscan.extract.decode",
    "icpscan.extract.provinces",
    "icpscan.crawl.redirects",
    "icpscan.crawl.facts",
    "icpscan.report.text",
)
FILLERS = (" ", "0", "a", '"', "'", "\\", "<", "-", "中", "/*", "&nbsp;")
STEP_LIMIT = 1.5  # per-MB time growth at one doubling of the input
GROWTH_LIMIT = 2.0
MB = 1_000_000
PROBE = 64 * 1024  # every input family is tried at this size; the worst two go to full size
# Patterns icpscan only ever applies with .match() at one position (a tag name, a header's
# start...): measured that way, since finditer over a whole page is not how they run.
ANCHORED = frozenset(
    {"page._TAG_NAME_RE", "facts._HTML_SNIFF", "redirects._REFRESH_TIME", "page._HOST_RE"}
)


def patterns() -> Iterator[tuple[str, re.Pattern]]:
    """(module.name, pattern) for every compiled pattern reachable from the modules' globals."""
    seen: set[int] = set()

    def walk(name: str, value: object, depth: int = 0) -> Iterator[tuple[str, re.Pattern]]:
        if isinstance(value, re.Pattern):
            if id(value) not in seen:
                seen.add(id(value))
                yield name, value
        elif depth < 3 and isinstance(value, tuple | list | dict | frozenset | set):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                yield from walk(f"{name}[{key}]", item, depth + 1)
        elif depth < 3 and hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
            for field in value.__dataclass_fields__:
                yield from walk(f"{name}.{field}", getattr(value, field), depth + 1)

    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for attr, value in vars(module).items():
            yield from walk(f"{module_name.rsplit('.', 1)[1]}.{attr}", value)


def literals(pattern: re.Pattern) -> list[str]:
    """The literal runs of a pattern (characters it must see in a row), longest first."""
    runs: list[str] = []

    def visit(parsed: object) -> None:
        current: list[str] = []
        for op, arg in parsed:  # type: ignore[attr-defined]
            if op is sre_parse.LITERAL:
                current.append(chr(arg))
                continue
            if current:
                runs.append("".join(current))
                current = []
            if op in (sre_parse.SUBPATTERN,):
                visit(arg[-1])
            elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT):
                visit(arg[2])
            elif op is sre_parse.BRANCH:
                for branch in arg[1]:
                    visit(branch)
            elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
                visit(arg[1])
        if current:
            runs.append("".join(current))

    source = pattern.pattern
    text = source.decode("latin-1") if isinstance(source, bytes) else source
    try:
        visit(sre_parse.parse(text, pattern.flags & ~re.UNICODE & ~re.ASCII))
    except Exception:  # an exotic pattern: fall back to its word characters
        runs = re.findall(r"\w{2,}", text)
    return sorted({r for r in runs if r.strip()}, key=len, reverse=True) or ["a"]


def families(pattern: re.Pattern) -> list[tuple[str, Callable[[int], str]]]:
    found = literals(pattern)
    lead = found[0]
    joined = "".join(found[:6])
    out: list[tuple[str, Callable[[int], str]]] = [
        (f"{lead!r}*", lambda n, s=lead: (s * (n // len(s) + 1))[:n]),
        ("all-literals*", lambda n, s=joined: (s * (n // len(s) + 1))[:n]),
    ]
    for filler in FILLERS:
        out.append(
            (f"{lead!r}+{filler!r}*", lambda n, s=lead, f=filler: s + (f * (n // len(f) + 1))[:n])
        )
    return out


def timed(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def scan_all(pattern: re.Pattern, text: str, anchored: bool = False) -> Callable[[], object]:
    subject: str | bytes = text
    if isinstance(pattern.pattern, bytes):
        subject = text.encode("utf-8", "replace")

    def run() -> None:
        if anchored:
            pattern.match(subject)  # type: ignore[arg-type]
            return
        for _ in pattern.finditer(subject):  # type: ignore[arg-type]
            pass

    return run


def measure(make: Callable[[int], object], runner: Callable[[object], Callable[[], object]],
            sizes: list[float]) -> list[float]:  # fmt: skip
    per_mb = []
    for size in sizes:
        data = make(int(size * MB))
        seconds = timed(runner(data))
        per_mb.append(seconds * 1000 / size)
        if seconds > 20:  # slow already: the growth is judged on the sizes measured
            break
    return per_mb


def superlinear(per_mb: list[float], growth: float) -> bool:
    if per_mb[-1] > 5000:  # no linear scan of one MB takes 5 s
        return True
    if per_mb[-1] <= 5:  # sub-5 ms/MB jitter
        return False
    if len(per_mb) < 3:
        return growth > GROWTH_LIMIT
    steps = [later / max(earlier, 1e-3) for earlier, later in itertools.pairwise(per_mb)]
    return all(step > STEP_LIMIT for step in steps[-2:])


def report(rows: list[tuple[str, str, list[float]]], sizes: list[float]) -> int:
    flagged = 0
    header = " ".join(f"{s:>6g} MB" for s in sizes)
    print(f"{'pattern':44} {'worst input':24} {header}  growth")
    for name, family, per_mb in rows:
        growth = per_mb[-1] / max(per_mb[0], 1e-3)
        mark = ""
        if superlinear(per_mb, growth):
            mark, flagged = "  SUPERLINEAR", flagged + 1
        cells = " ".join(f"{v:9.1f}" for v in per_mb)
        cells += " " + " ".join(f"{'skipped':>9}" for _ in sizes[len(per_mb) :])
        print(f"{name[:44]:44} {family[:24]:24} {cells}  {growth:5.2f}{mark}")
    return flagged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,8", help="input sizes in MB (0.25 is fine)")
    parser.add_argument("--quick", action="store_true", help="only the first three fillers")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    if args.quick:
        global FILLERS
        FILLERS = FILLERS[:3]

    from icpscan.crawl.redirects import find_html_redirect
    from icpscan.extract import extract
    from icpscan.extract.decode import decode

    started = time.perf_counter()
    rows = []
    count = 0
    for name, pattern in patterns():
        count += 1
        anchored = name in ANCHORED

        def runner(text: object, p: re.Pattern = pattern, a: bool = anchored) -> Callable:
            return scan_all(p, str(text), a)

        probes = sorted(
            ((timed(runner(make(PROBE))), family, make) for family, make in families(pattern)),
            key=lambda probe: probe[0],
            reverse=True,
        )
        worst: tuple[str, list[float]] | None = None
        for _probe, family, make in probes[:2]:
            per_mb = measure(make, runner, sizes)
            if worst is None or max(per_mb) > max(worst[1]):
                worst = (family + (" (match)" if anchored else ""), per_mb)
        assert worst is not None
        rows.append((name, *worst))
    print(f"{count} patterns from {len(MODULES)} modules, worst near-match input of each "
          "(ms per MB):\n")  # fmt: skip
    flagged = report(rows, sizes)

    pages: list[tuple[str, Callable[[int], str]]] = [
        ("beian without code=", lambda n: "<p>" + "beian" * (n // 5)),
        ("京ICP备 repeated", lambda n: "<p>" + "京ICP备" * (n // 5)),
        ("公网安 repeated", lambda n: "公网安" * (n // 3)),
        ("{{ repeated", lambda n: "{{" * (n // 2)),
        ("B2- repeated", lambda n: "B2-" * (n // 3)),
        ("unclosed comment", lambda n: "<!--" + "-" * n),
        ("unclosed script", lambda n: "<script>" + "location.href=" * (n // 14)),
        ("JS comment opener", lambda n: "<script>" + "/*" * (n // 2)),
        ("meta refresh repeated", lambda n: "<meta http-equiv=refresh content='0;url=" * (n // 40)),
        ("long attribute name", lambda n: "<div " + "a" * n + ">"),
        ("nested divs", lambda n: "<div>" * (n // 5)),
        ("&#23433; repeated", lambda n: "&#23433;" * (n // 8)),
        ("digits after ICP备", lambda n: "京ICP备" + "7" * n),
    ]

    def on_bytes(function: Callable[[bytes], object], codec: str) -> Callable[[object], Callable]:
        def runner(page: object) -> Callable[[], object]:
            data = str(page).encode(codec)
            return lambda: function(data)

        return runner

    entry_points = {
        "extract": on_bytes(extract, "utf-8"),
        "find_html_redirect": lambda page: lambda: find_html_redirect(str(page), "https://a.cn/"),
        "decode": on_bytes(lambda data: decode(data, None), "gb18030"),
    }
    print("\nEntry points on whole adversarial pages (ms per MB):\n")
    entry_rows = []
    for entry, runner in entry_points.items():
        for label, make in pages:
            entry_rows.append((entry, label, measure(make, runner, sizes)))
    flagged += report(entry_rows, sizes)
    print(
        f"\nregex_linearity: {count} patterns + {len(entry_rows)} page cases, "
        f"{flagged} superlinear, {time.perf_counter() - started:.0f} s"
    )
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
