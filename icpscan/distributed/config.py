"""The options every worker of a scan runs with, published once in Redis by the feeder.

A worker on another machine cannot read the feeder's files, so the files a scan depends on
(the CA bundle, the expected-filings CSV, the address ranges, a refreshed data directory) travel
*inside* the published document and are written to a private directory on each worker.
Everything else is :class:`~icpscan.worker.ScanConfig` as a local scan has it, plus the
distributed settings (Redis URL, scan token, the shared politeness budget).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from icpscan.distributed.connection import DistributedError
from icpscan.worker import ScanConfig

DOCUMENT_VERSION = 1
EMBED_LIMIT = 64 * 1024 * 1024  # bytes of files one scan may ship to its workers
_FILE_FIELDS = ("ca_bundle", "expected_file", "ranges_file")


@dataclass
class DistributedScanConfig(ScanConfig):
    redis_url: str = ""
    token: str = ""
    worker: str = ""
    network_rate: float = 0.0  # requests per second to one network, all workers together
    network_burst: int = 1
    loopback_only: bool = False
    stats_interval: float = 2.0

    def crawl_settings(self) -> dict[str, Any]:
        settings = super().crawl_settings()
        settings.update(
            {
                "ICPSCAN_REDIS_URL": self.redis_url,
                "ICPSCAN_REDIS_SCAN": self.token,
                "ICPSCAN_REDIS_STATS_INTERVAL": self.stats_interval,
                "STATS_CLASS": "icpscan.distributed.stats.SharedStatsCollector",
            }
        )
        if self.network_rate > 0:
            settings["ICPSCAN_NETWORK_RATE"] = self.network_rate
            settings["ICPSCAN_NETWORK_BURST"] = self.network_burst
            settings["DOWNLOADER_MIDDLEWARES"] = {
                "icpscan.distributed.politeness.SharedBudgetMiddleware": 600
            }
        return settings


def build_document(
    config: ScanConfig,
    *,
    network_rate: float,
    network_burst: int,
    loopback_only: bool,
) -> dict[str, Any]:
    """The JSON document workers receive: the scan's options with their files embedded."""
    options = asdict(config)
    options.pop("db", None)
    files: dict[str, Any] = {}
    budget = EMBED_LIMIT
    for name in _FILE_FIELDS:
        path = options.pop(name, None)
        if path:
            files[name], budget = _embed(Path(path), budget)
    data_dir = options.pop("data_dir", None)
    if data_dir:
        directory = {}
        for path in sorted(Path(data_dir).iterdir()):
            if path.is_file():
                directory[path.name], budget = _embed(path, budget)
        files["data_dir"] = directory
    options.update(
        network_rate=network_rate, network_burst=network_burst, loopback_only=loopback_only
    )
    return {"version": DOCUMENT_VERSION, "options": options, "files": files}


def _embed(path: Path, budget: int) -> tuple[dict[str, str], int]:
    data = path.read_bytes()
    if len(data) > budget:
        raise DistributedError(
            f"{path} is too large to ship to the workers (the files of a scan may total "
            f"{EMBED_LIMIT // (1024 * 1024)} MiB)"
        )
    return {"name": path.name, "base64": base64.b64encode(data).decode("ascii")}, budget - len(data)


def dumps_document(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def materialize(
    text: str | bytes, directory: Path, *, redis_url: str, token: str, worker: str
) -> DistributedScanConfig:
    """The worker's config from a published document; embedded files go into ``directory``."""
    try:
        document = json.loads(text)
        version = document["version"]
        options = dict(document["options"])
        files = document.get("files") or {}
    except (ValueError, KeyError, TypeError) as exc:
        raise DistributedError(f"scan {token}: unreadable configuration in redis ({exc})") from None
    if version != DOCUMENT_VERSION:
        raise DistributedError(
            f"scan {token} was published by a different icpscan (config version {version},"
            f" this worker reads {DOCUMENT_VERSION}): run the same icpscan version everywhere"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for name in _FILE_FIELDS:
        if name in files:
            options[name] = str(_write(directory / name, files[name]))
    if "data_dir" in files:
        data_dir = directory / "data"
        data_dir.mkdir(exist_ok=True)
        for entry in files["data_dir"].values():
            _write(data_dir / Path(entry["name"]).name, entry)
        options["data_dir"] = str(data_dir)
    known = {f.name for f in fields(DistributedScanConfig)} - {"db", "redis_url", "token", "worker"}
    options = {k: v for k, v in options.items() if k in known}
    options["retire_after"] = 0  # the supervisor keeps a crawler for the whole scan
    return DistributedScanConfig(db="", **options, redis_url=redis_url, token=token, worker=worker)


def _write(path: Path, entry: dict[str, str]) -> Path:
    path.write_bytes(base64.b64decode(entry["base64"]))
    return path
