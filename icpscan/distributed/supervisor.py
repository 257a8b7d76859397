"""``icpscan worker``: one machine's share of distributed scans.

A Scrapy process is bound by one core and its reactor runs once, so this supervisor starts one
crawler process per core (:mod:`icpscan.distributed.worker`) for the oldest running scan in
Redis, restarts a crawler that dies (its domains go back to the queue at once: the supervisor
knows it is gone, no need to wait for the lease), and moves on to the next scan when one ends.

SIGTERM or Ctrl-C drains: each crawler finishes and delivers the domains it holds, then exits;
a second signal stops them at once and gives their domains back. Crawlers run in their own
process group (a terminal's Ctrl-C reaches only the supervisor, which forwards one SIGTERM)
and die with the supervisor, so ``kill -9`` of the supervisor is a dead machine: its domains
return to the queue when their lease expires.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from redis import Redis

from icpscan.distributed import scanstate
from icpscan.distributed.connection import RedisError, connect, describe, ping
from icpscan.distributed.keys import ScanKeys, new_worker_name
from icpscan.distributed.queue import ReliableQueue
from icpscan.distributed.worker import EXIT_NO_SCAN, LEASE_ENV, REDIS_URL_ENV
from icpscan.worker import PARENT_PID_ENV

POLL_SECONDS = 0.5
MAX_RESTARTS = 5
EXIT_INTERRUPTED = 130

Notice = Callable[[str], None]


@dataclass
class WorkerOptions:
    redis_url: str
    processes: int = os.cpu_count() or 1
    scan: str | None = None  # a scan token; default: whichever scan is running, oldest first
    once: bool = False  # exit after one scan instead of waiting for the next
    lease: float = 30.0
    name: str | None = None  # worker name prefix (default: the host name)


class _Crawlers:
    """The crawler processes working on one scan."""

    def __init__(self, options: WorkerOptions, token: str, server: Redis, notice: Notice) -> None:
        self.options, self.token, self.notice = options, token, notice
        self.queue = ReliableQueue(server, ScanKeys(token))
        self.env = {
            **os.environ,
            REDIS_URL_ENV: options.redis_url,
            LEASE_ENV: str(options.lease),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts = 0
        self.unusable = False  # a crawler could not use the scan (its config, its version)
        for _ in range(max(1, options.processes)):
            self.start()

    def start(self) -> None:
        name = new_worker_name(self.options.name)
        self.procs[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "icpscan.distributed.worker", self.token, name],
            env={**self.env, PARENT_PID_ENV: str(os.getpid())},
            stdin=subprocess.DEVNULL,
            process_group=0,
        )

    def poll(self, draining: bool) -> None:
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.procs[name]
            if code == EXIT_NO_SCAN:
                self.unusable = True
            if code in (0, EXIT_NO_SCAN) or draining:
                continue
            self._died(name, code)

    def _died(self, name: str, code: int) -> None:
        try:
            moved = max(0, self.queue.requeue(name, force=True))
        except RedisError as exc:
            moved = 0
            self.notice(f"crawler {name} died; redis unreachable ({describe(exc)})")
        self.notice(f"crawler {name} exited with {code}; {moved} of its domains requeued")
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.notice(f"crawlers keep dying ({self.restarts} restarts): not restarting")
            return
        self.start()

    def signal_all(self, signum: int) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    def kill_all(self) -> None:
        self.signal_all(signal.SIGKILL)
        for name, proc in self.procs.items():
            proc.wait()
            with contextlib.suppress(RedisError):
                self.queue.requeue(name, force=True)
        self.procs.clear()


class Supervisor:
    def __init__(self, options: WorkerOptions, notice: Notice) -> None:
        self.options, self.notice = options, notice
        self.server = connect(options.redis_url, name="icpscan-supervisor")
        self.crawlers: _Crawlers | None = None
        self.stop_signal: int | None = None
        self.skipped: set[str] = set()  # scans this machine cannot work on

    def run(self) -> int:
        ping(self.options.redis_url)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        waited = False
        while self.stop_signal is None:
            token = self._next_scan()
            if token is None:
                if self.options.scan and self._scan_over():
                    self.notice(f"scan {self.options.scan} is not running")
                    return 0
                if not waited:
                    self.notice("waiting for a scan to work on")
                    waited = True
                time.sleep(POLL_SECONDS * 2)
                continue
            waited = False
            self._work_on(token)
            if self.options.once:
                break
        if self.stop_signal == signal.SIGINT:
            return EXIT_INTERRUPTED
        return 0

    def _work_on(self, token: str) -> None:
        record = scanstate.read(self.server, token)
        scan_id = record.scan_id if record else "?"
        self.notice(
            f"working on scan {scan_id} (token {token}) with {self.options.processes} crawlers"
        )
        self.crawlers = _Crawlers(self.options, token, self.server, self.notice)
        while self.crawlers.procs:
            time.sleep(POLL_SECONDS)
            self.crawlers.poll(draining=self.stop_signal is not None)
        if self.crawlers.unusable:
            self.notice(f"cannot work on scan {scan_id} (token {token}): see above; skipping it")
            self.skipped.add(token)
        self.crawlers = None

    def _next_scan(self) -> str | None:
        try:
            tokens = [self.options.scan] if self.options.scan else scanstate.registered(self.server)
            for token in tokens:
                if token in self.skipped:
                    continue
                if scanstate.status_of(self.server, ScanKeys(token)) == scanstate.RUNNING:
                    return token
        except RedisError as exc:
            self.notice(f"redis unreachable ({describe(exc)}); retrying")
        return None

    def _scan_over(self) -> bool:
        assert self.options.scan is not None
        try:
            status = scanstate.status_of(self.server, ScanKeys(self.options.scan))
        except RedisError:
            return False
        return status in (scanstate.FINISHED, scanstate.INTERRUPTED)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        crawlers = self.crawlers
        if self.stop_signal is not None:
            self.notice("second signal: stopping the crawlers now, their domains go back")
            if crawlers is not None:
                crawlers.kill_all()
            os._exit(EXIT_INTERRUPTED)
        self.stop_signal = signum
        if crawlers is not None:
            self.notice(f"draining {len(crawlers.procs)} crawlers (signal again to stop now)")
            crawlers.signal_all(signal.SIGTERM)


def run_workers(options: WorkerOptions, notice: Notice) -> int:
    return Supervisor(options, notice).run()
