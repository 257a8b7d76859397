"""Coverage-guided fuzzing of what reads crawled pages, with atheris (run by hand).

    /work/venv/bin/pip install 'atheris==3.0.0'        # or: pip install -e '.[fuzz]'
    mkdir -p /tmp/fuzz-pages
    /work/venv/bin/python bench/fuzz_pages.py -max_total_time=300 /tmp/fuzz-pages tests/corpus/pages

Each input's first byte picks a charset label (every codec name and alias Python knows, the
bytes-to-bytes ones included) and a target: the charset decoder, the extractor (bytes with that
label as the HTTP charset), the crawl's HTML redirect detection, or the Location resolver. The
checks are the properties of tests/faults/test_faults_fuzz.py. A failing input is written to
``crash-<sha1>``: copy it into ``tests/corpus/pages/`` (it stays a seed here) and pin the case
in tests/faults/test_faults_fuzz.py.
"""

from __future__ import annotations

import codecs
import encodings.aliases
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["icpscan"]):
    from icpscan.crawl.redirects import find_html_redirect, resolve_location
    from icpscan.extract import extract
    from icpscan.extract.decode import decode
    from icpscan.extract.numbers import MAX_DIGIT_RUN

PAGE = "https://lab.example.cn/index.html"
LABELS = [None, *sorted({*encodings.aliases.aliases, *encodings.aliases.aliases.values()})]
TARGETS = ("decode", "extract", "redirect", "location")


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    label = LABELS[data[0] % len(LABELS)]
    target = TARGETS[data[1] % len(TARGETS)]
    body = data[2:]
    if target == "decode":
        decoded = decode(body, label)
        assert codecs.lookup(decoded.encoding)._is_text_encoding  # never zlib, base64...
    elif target == "extract":
        for number in extract(body, base_url=PAGE, encoding=label).numbers:
            assert len(number.number) <= MAX_DIGIT_RUN + 16, number.number
    elif target == "redirect":
        found = find_html_redirect(body.decode("utf-8", "replace"), PAGE)
        if found is not None:
            assert found.url.startswith(("http://", "https://")) and found.url != PAGE
    else:
        url = resolve_location(body, PAGE)
        assert url is None or url.startswith(("http://", "https://"))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
