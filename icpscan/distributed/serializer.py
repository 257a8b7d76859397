"""A JSON serializer for scrapy-redis queues: requests travel as data, never as pickles.

scrapy-redis pickles requests by default, so anyone who can write to the queue can run code in
every worker. A request queued by icpscan is plain data (URL, method, a small ``meta`` dict);
this module is a drop-in ``SCHEDULER_SERIALIZER`` (``loads``/``dumps``) for such requests.
Bytes (headers, body) are carried as base64; anything else that JSON cannot hold is refused.
"""

from __future__ import annotations

import base64
import json
from typing import Any

_BYTES = "__bytes__"


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot queue a {type(value).__name__} (only JSON data and bytes)")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES in obj:
        return base64.b64decode(obj[_BYTES])
    return obj


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, default=_encode, ensure_ascii=False, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    return json.loads(data, object_hook=_decode)
