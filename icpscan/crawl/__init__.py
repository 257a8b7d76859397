"""The crawl stage: fetch each domain's homepage from the address the hosting stage located.

Scrapy glue around pure parts: :mod:`.connect_to` (``--connect-to``/``--resolve``),
:mod:`.destination` (pin -> policy -> override), :mod:`.tls` (certificate facts),
:mod:`.redirects` (Location, meta refresh, JS), :mod:`.job` (per-domain state and the
:class:`~icpscan.models.FetchResult` record); :mod:`.handler` is the download handler,
:mod:`.addon` the Scrapy add-on, ``spiders/homepage.py`` the spider, :mod:`.run` an in-process
runner.
"""

from __future__ import annotations

from icpscan.crawl.addon import IcpscanAddon, crawl_settings
from icpscan.crawl.job import FetchJob
from icpscan.crawl.run import run_fetch

__all__ = ["FetchJob", "IcpscanAddon", "crawl_settings", "run_fetch"]
