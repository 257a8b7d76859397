"""Coverage-guided fuzzing of the input reader with atheris (run by hand, not in the test-suite).

    /work/venv/bin/pip install 'atheris==3.0.0'        # or: pip install -e '.[fuzz]'
    mkdir -p /tmp/fuzz-corpus
    /work/venv/bin/python bench/fuzz_targets.py -max_total_time=600 \\
        /tmp/fuzz-corpus tests/corpus/targets

libFuzzer writes the inputs that reach new code into the first directory (a scratch one) and
reads the regression corpus as seeds. Each input's first byte picks a mode: one entry for
``parse_target`` (the rest as UTF-8, undecodable bytes as lone surrogates) or a whole file for
``read_targets`` in auto, text or CSV mode. The checks are the properties of
tests/test_targets_fuzz.py. A failing input is written to ``crash-<sha1>`` in the working
directory: copy it into ``tests/corpus/targets/`` without its mode byte, named after what it
broke, so ``tests/test_targets_fuzz.py::test_corpus`` keeps it fixed.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

with atheris.instrument_imports(include=["icpscan", "idna", "csv", "urllib"]):
    from icpscan.targets import InputFileError, parse_target, read_targets

from test_targets_fuzz import assert_result  # the same checks the test-suite makes

_MODES = ("entry", "auto", "text", "csv", "csv-column")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    mode = _MODES[data[0] % len(_MODES)]
    body = data[1:]
    if mode == "entry":
        assert_result(parse_target(body.decode("utf-8", "surrogateescape")))
        return
    options: dict[str, str] = {}
    if mode == "csv-column":
        options["column"] = "2"
    else:
        options["input_format"] = mode
    try:
        items = list(read_targets(io.BytesIO(body), **options))  # type: ignore[arg-type]
    except InputFileError:
        return
    lines = [item.line for item in items]
    assert lines == sorted(lines), lines
    for item in items:
        assert_result(item)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
