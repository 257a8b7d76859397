"""The settings module ``scrapy crawl homepage`` reads from the repository root (``scrapy.cfg``).

Everything that tunes the crawl is in the add-on (:class:`icpscan.crawl.IcpscanAddon`, see
:mod:`icpscan.crawl.addon` for the reasons behind each value); this module only enables it,
names the spiders, and installs the process-wide resolver guard that an add-on cannot set.
Scrapy reads every upper-case name here as a setting.
"""

BOT_NAME = "icpscan"
SPIDER_MODULES = ["spiders"]
ADDONS = {"icpscan.crawl.IcpscanAddon": 0}
# Process-wide (the reactor's resolver): Twisted must never look a name up; icpscan does.
TWISTED_DNS_RESOLVER = "icpscan.crawl.resolver.RefusingTwistedResolver"
LOG_LEVEL = "INFO"
