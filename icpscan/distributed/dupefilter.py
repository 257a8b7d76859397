"""The scan's dupefilter: scrapy-redis's Redis set of fingerprints, one fingerprint per domain.

scrapy-redis's :class:`~scrapy_redis.dupefilter.RFPDupeFilter` fingerprints a request by its
canonical URL; a scan's unit is the domain, so here the fingerprint *is* the domain and the set
reads as the list of domains queued so far. The feeder does not call :meth:`request_seen`
(an ``SADD`` followed by a separate push would lose a domain if the feeder died in between);
it adds fingerprints and pushes requests in one Lua script (:mod:`.queue`), on this key.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from redis import Redis
from scrapy import Request
from scrapy_redis.dupefilter import RFPDupeFilter

from icpscan.distributed.keys import ScanKeys

JOB_META = "icpscan_job"


class DomainDupeFilter(RFPDupeFilter):
    def __init__(self, server: Redis, keys: ScanKeys, debug: bool = False) -> None:
        super().__init__(server, key=keys.dupefilter, debug=debug)

    def request_fingerprint(self, request: Request) -> str:
        job = request.meta.get(JOB_META)
        if isinstance(job, dict) and job.get("domain"):
            return str(job["domain"])
        return (urlsplit(request.url).hostname or request.url).lower()

    def seen_count(self) -> int:
        return int(self.server.scard(self.key))
