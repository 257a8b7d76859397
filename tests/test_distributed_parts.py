"""The distributed pieces against a real redis-server on loopback: queue, reaper, collector,
politeness budget, published configuration, serializer, and the commands' error paths."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from scrapy import Request

from icpscan import store
from icpscan.crawl.destination import Pin
from icpscan.crawl.handler import META_PIN
from icpscan.distributed import scanstate, serializer
from icpscan.distributed.collector import Collector, Publisher
from icpscan.distributed.config import build_document, dumps_document, materialize
from icpscan.distributed.connection import DistributedError, connect, redact
from icpscan.distributed.keys import REGISTRY, ScanKeys, new_token, worker_key
from icpscan.distributed.politeness import NetworkBudget, budget_subject, network_of
from icpscan.distributed.queue import Job, ReliableQueue
from icpscan.worker import ScanConfig
from tests.redis_server import RedisServer, free_port


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-parts")).start()
    yield server
    server.stop()


@pytest.fixture
def client(redis_server):
    server = connect(redis_server.url)
    server.flushall()
    return server


def jobs(*domains: str) -> list[Job]:
    return [Job(d, d, i) for i, d in enumerate(domains, 1)]


# -- serializer ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(max_size=64),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_serializer_round_trips_json_data_and_bytes(value):
    assert serializer.loads(serializer.dumps(value)) == value


def test_serializer_refuses_what_would_need_pickle():
    class Gadget:
        pass

    with pytest.raises(TypeError, match="cannot queue a Gadget"):
        serializer.dumps({"meta": Gadget()})


def test_a_queued_request_is_plain_json_not_a_pickle(client):
    queue = ReliableQueue(client, ScanKeys(new_token()))
    queue.push_unseen([Job("例子.cn".encode("idna").decode(), "例子.cn", 7)])
    raw = client.lrange(queue.key, 0, -1)[0]
    data = json.loads(raw)
    assert data["url"] == "http://xn--fsqu00a.cn/"
    assert data["meta"] == {
        "icpscan_job": {"domain": "xn--fsqu00a.cn", "display": "例子.cn", "line": 7}
    }
    assert data["body"] == {"__bytes__": ""}


# -- the queue ----------------------------------------------------------------------------------


def test_feeding_twice_queues_nothing_twice(client):
    keys = ScanKeys(new_token())
    queue = ReliableQueue(client, keys)
    assert queue.push_unseen(jobs("a.cn", "b.cn", "a.cn", "c.cn")) == 3
    assert queue.push_unseen(jobs("c.cn", "b.cn", "a.cn")) == 0
    assert queue.push_unseen(jobs("d.cn", "a.cn")) == 1
    assert len(queue) == 4
    assert queue.dupefilter.seen_count() == 4
    taken = queue.claim("w1", 10)
    assert [c.job.domain for c in taken] == ["a.cn", "b.cn", "c.cn", "d.cn"]  # FIFO


def test_a_claim_moves_requests_and_delivery_acknowledges_them_atomically(client):
    keys = ScanKeys(new_token())
    queue = ReliableQueue(client, keys)
    queue.push_unseen(jobs("a.cn", "b.cn", "c.cn"))
    taken = queue.claim("w1", 2)
    assert [c.job.domain for c in taken] == ["a.cn", "b.cn"]
    assert (len(queue), queue.held("w1")) == (1, 2)
    queue.deliver("w1", ['{"domain":"a.cn"}'], [taken[0].raw])
    assert queue.held("w1") == 1
    entries = client.xrange(keys.results)
    assert [fields[b"r"] for _, fields in entries] == [b'{"domain":"a.cn"}']
    assert client.lrange(keys.processing("w1"), 0, -1) == [taken[1].raw]


def test_the_reaper_requeues_only_workers_whose_heartbeat_expired(client):
    keys = ScanKeys(new_token())
    queue = ReliableQueue(client, keys)
    scanstate.publish(client, keys, scan_id=1, database="d", feeder="f", config_text="{}",
                      epoch="e", input_complete=True, fed=5, stored=0, created=1.0)  # fmt: skip
    queue.push_unseen(jobs("a.cn", "b.cn", "c.cn", "d.cn", "e.cn"))
    client.sadd(keys.workers, "alive", "dead")
    client.set(worker_key("alive"), "x", px=60_000)
    client.set(worker_key("dead"), "x", px=50)
    queue.claim("alive", 2)
    queue.claim("dead", 2)
    time.sleep(0.1)  # the dead worker's heartbeat expires
    assert queue.requeue("alive") == -1
    assert queue.reap() == 2
    assert queue.held("dead") == 0 and queue.held("alive") == 2
    assert len(queue) == 3
    assert client.smembers(keys.workers) == {b"alive"}
    assert scanstate.read(client, keys.token).requeued == 2
    # the requeued domains are the next ones out
    assert [c.job.domain for c in queue.claim("alive", 2)] == ["c.cn", "d.cn"]


def test_an_unreadable_queue_entry_is_dropped_not_fatal(client):
    keys = ScanKeys(new_token())
    queue = ReliableQueue(client, keys)
    client.lpush(keys.requests, b"\x80\x04not json")
    queue.push_unseen(jobs("a.cn"))
    assert [c.job.domain for c in queue.claim("w", 5)] == ["a.cn"]
    assert queue.held("w") == 1  # only the good one is held


# -- the collector ------------------------------------------------------------------------------


def _dataset(tmp_path: Path, domains: list[str]):
    db = store.open_db(tmp_path / "scan.db")
    scan_id = store.create_scan(db, input_name="list", options={})
    store.enqueue_targets(db, scan_id, [(d, d, i) for i, d in enumerate(domains, 1)], lines_read=3)
    store.mark_input_complete(db, scan_id)
    return db, scan_id


def _record(domain: str) -> str:
    return json.dumps({"domain": domain, "hosting": {}, "fetch": {}, "numbers": [], "findings": []})


def test_the_collector_stores_each_domain_once_across_a_crash_between_write_and_ack(
    client, tmp_path
):
    db, scan_id = _dataset(tmp_path, ["a.cn", "b.cn", "c.cn"])
    keys = ScanKeys(new_token())
    publisher = Publisher(client, keys, scan_id, "here:scan.db", "{}", "epoch", time.time())
    assert publisher.publish(db) == 3
    queue = ReliableQueue(client, keys)
    claimed = queue.claim("w", 3)
    notices: list[str] = []
    first = Collector(db, publisher, patience=5, notice=notices.append)
    first.acquire()
    # a.cn was delivered and written, then the collector died before acknowledging it
    queue.deliver("w", [_record("a.cn")], [claimed[0].raw])
    client.xreadgroup("collector", "collector", {keys.results: ">"})
    store.write_results(db, scan_id, [json.loads(_record("a.cn"))])
    # the others arrive, one of them twice (a worker thought dead delivered it too)
    queue.deliver("w", [_record("b.cn"), _record("c.cn"), _record("b.cn")],
                  [c.raw for c in claimed[1:]])  # fmt: skip
    client.delete(keys.collector)  # the dead collector's lock expired
    second = Collector(db, publisher, patience=5, notice=notices.append)
    second.acquire()
    assert second.run(lambda: True) is True
    rows = db.execute("SELECT domain, count(*) FROM domains GROUP BY domain").fetchall()
    assert rows == [("a.cn", 1), ("b.cn", 1), ("c.cn", 1)]
    assert store.queue_counts(db, scan_id) == {"pending": 0, "claimed": 0, "done": 3}
    assert client.xlen(keys.results) == 0
    assert client.xpending(keys.results, "collector")["pending"] == 0
    assert second.written == 2 and notices == []


def test_a_second_collector_is_refused_while_the_first_is_alive(client, tmp_path):
    db, scan_id = _dataset(tmp_path, ["a.cn"])
    keys = ScanKeys(new_token())
    publisher = Publisher(client, keys, scan_id, "d", "{}", "epoch", 1.0)
    Collector(db, publisher, patience=5, notice=print).acquire()
    other = Publisher(client, keys, scan_id, "d", "{}", "other-epoch", 1.0)
    with pytest.raises(DistributedError, match=f"scan {scan_id} already has a collector"):
        Collector(db, other, patience=5, notice=print).acquire()


def test_a_lock_left_by_a_dead_local_collector_is_taken_over(client, tmp_path):
    db, scan_id = _dataset(tmp_path, ["a.cn"])
    keys = ScanKeys(new_token())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    import socket

    client.set(keys.collector, f"{socket.gethostname()}:{dead}:old", px=60_000)
    publisher = Publisher(client, keys, scan_id, "d", "{}", "epoch", 1.0)
    Collector(db, publisher, patience=5, notice=print).acquire()
    assert client.get(keys.collector).decode().endswith(":epoch")


def test_finishing_clears_the_queues_and_keeps_a_visible_record(client, tmp_path):
    db, scan_id = _dataset(tmp_path, ["a.cn"])
    keys = ScanKeys(new_token())
    publisher = Publisher(client, keys, scan_id, "d", "{}", "epoch", 1.0)
    publisher.publish(db)
    assert client.zrange(REGISTRY, 0, -1) == [keys.token.encode()]
    scanstate.close(client, keys, scanstate.FINISHED)
    assert client.exists(keys.requests, keys.dupefilter, keys.config) == 0
    assert client.zrange(REGISTRY, 0, -1) == []
    record = scanstate.read(client, keys.token)
    assert record.status == "finished" and 0 < client.ttl(keys.scan) <= 24 * 3600


# -- politeness ---------------------------------------------------------------------------------


def test_networks_are_the_v4_slash_24_and_the_v6_slash_48():
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2400:3200:1:2::1") == "2400:3200:1::/48"
    pinned = Request("https://a.cn/", meta={META_PIN: Pin("a.cn", "1.2.4.8")})
    assert budget_subject(pinned) == "1.2.4.0/24"
    assert budget_subject(Request("http://user@B.cn:8080/x")) == "host:b.cn:8080"


def test_the_network_budget_spaces_requests_from_many_workers(redis_server, client):
    rate, count = 20.0, 24  # 50 ms apart
    sends: list[tuple[float, float]] = []  # each send time lies in [earliest, latest]
    lock = threading.Lock()

    def worker():
        budget = NetworkBudget(connect(redis_server.url), rate, burst=1)
        for _ in range(count // 3):
            before = time.monotonic()
            wait = budget.reserve("198.51.100.0/24")
            after = time.monotonic()
            with lock:
                sends.append((before + wait, after + wait))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sends.sort()
    slack = max(latest - earliest for earliest, latest in sends) + 0.002
    middles = [(earliest + latest) / 2 for earliest, latest in sends]
    gaps = [b - a for a, b in itertools.pairwise(middles)]
    assert len(sends) == count
    assert all(abs(gap - 0.050) <= slack for gap in gaps), (gaps, slack)
    # another network is not affected
    assert NetworkBudget(client, rate).reserve("192.0.2.0/24") == 0.0


def test_a_burst_goes_out_at_once_then_the_rate_applies(client):
    budget = NetworkBudget(client, rate=10.0, burst=5)
    started = time.monotonic()
    waits = [budget.reserve("203.0.113.0/24") for _ in range(7)]
    elapsed = time.monotonic() - started
    assert waits[:5] == [0.0] * 5
    # slot k of a burst of 5 goes out (k - 4) x 100 ms after the first reservation
    assert 0.1 - elapsed <= waits[5] <= 0.1
    assert 0.2 - elapsed <= waits[6] <= 0.2


# -- the published configuration ----------------------------------------------------------------


def test_the_scan_options_travel_with_their_files(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nabc\n")
    expected = tmp_path / "filings.csv"
    expected.write_bytes("domain,icp_number\n例子.cn,京ICP备1号\n".encode("gbk"))
    data = tmp_path / "data"
    data.mkdir()
    (data / "cloud_ranges.csv").write_text("prefix,provider\n", encoding="utf-8")
    config = ScanConfig(db="/feeder/scan.db", scan_id=4, nameservers=["127.0.0.1:53"],
                        ca_bundle=str(ca), expected_file=str(expected), data_dir=str(data),
                        connect_to=["::127.0.0.1:8443"], concurrent_requests=32)  # fmt: skip
    document = build_document(config, network_rate=5.0, network_burst=2, loopback_only=True)
    assert "/feeder" not in dumps_document(document)
    worker = materialize(dumps_document(document), tmp_path / "worker", redis_url="redis://h/0",
                         token="abcdefabcdef", worker="w1")  # fmt: skip
    assert Path(worker.ca_bundle).read_bytes() == ca.read_bytes()
    assert Path(worker.expected_file).read_bytes() == expected.read_bytes()
    assert (Path(worker.data_dir) / "cloud_ranges.csv").read_text() == "prefix,provider\n"
    assert (worker.scan_id, worker.nameservers, worker.connect_to) == (
        4, ["127.0.0.1:53"], ["::127.0.0.1:8443"])  # fmt: skip
    assert (worker.network_rate, worker.network_burst, worker.loopback_only) == (5.0, 2, True)
    settings = worker.crawl_settings()
    assert settings["DOWNLOADER_MIDDLEWARES"] == {
        "icpscan.distributed.politeness.SharedBudgetMiddleware": 600
    }
    assert settings["STATS_CLASS"] == "icpscan.distributed.stats.SharedStatsCollector"
    assert settings["CONCURRENT_REQUESTS"] == 32


def test_a_document_from_another_version_is_refused_clearly(tmp_path):
    text = json.dumps({"version": 99, "options": {}, "files": {}})
    with pytest.raises(DistributedError, match="config version 99, this worker reads 1"):
        materialize(text, tmp_path, redis_url="redis://h/0", token="t", worker="w")


def test_passwords_never_reach_logs_or_the_dataset():
    assert redact("redis://:s3cret@10.0.0.5:6379/2") == "redis://:***@10.0.0.5:6379/2"
    assert redact("redis://app:s3cret@[fd00::5]:6380/0") == "redis://app:***@[fd00::5]:6380/0"
    assert redact("redis://10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"


# -- the commands' error paths ------------------------------------------------------------------


def icpscan(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "icpscan", *args], capture_output=True,
                          text=True, timeout=timeout, env=os.environ, check=False)  # fmt: skip


def test_an_unreachable_redis_is_one_line_and_exit_2():
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = icpscan("worker", "--redis", url, "--once")
    assert result.returncode == 2
    assert result.stderr.startswith(f"icpscan: error: cannot use redis at {url}: Error 111")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_redis_url_is_one_line_and_exit_2(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("a.cn\n", encoding="utf-8")
    result = icpscan(
        "scan",
        str(listing),
        "--db",
        str(tmp_path / "x.db"),
        "--redis",
        "http://:pw@host/0",
        "--loopback-only",
        "--nameserver",
        "127.0.0.1:9",
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "icpscan: error: bad --redis URL http://:***@host/0: Redis URL must specify one of the"
        " following schemes (redis://, rediss://, unix://)"
    )


def test_a_local_scan_cannot_be_resumed_through_redis(redis_server, tmp_path):
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    db = store.open_db(tmp_path / "local.db")
    store.create_scan(db, input_name="list", options={"workers": 2})
    listing = tmp_path / "list.txt"
    listing.write_text("a.cn\n", encoding="utf-8")
    result = icpscan(
        "scan",
        str(listing),
        "--db",
        str(tmp_path / "local.db"),
        "--redis",
        redis_server.url,
        "--resume",
        "--loopback-only",
        "--nameserver",
        "127.0.0.1:9",
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "icpscan: error: scan 1 was a local scan: resume it without --redis"
    )


def test_status_with_nothing_running(redis_server):
    redis.Redis.from_url(redis_server.url).flushall()
    result = icpscan("status", "--redis", redis_server.url)
    assert (result.returncode, result.stdout.strip()) == (0, "no distributed scan is running")
    result = icpscan("status", "--redis", redis_server.url, "--format", "json")
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_the_core_install_runs_without_redis_and_names_the_extra():
    block = (
        "import sys; sys.modules['redis'] = None; sys.modules['scrapy_redis'] = None;"
        "from icpscan.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    helped = subprocess.run([sys.executable, "-c", block, "--help"], capture_output=True,
                            text=True, env=os.environ, check=False)  # fmt: skip
    assert helped.returncode == 0 and "worker" in helped.stdout
    command = [sys.executable, "-c", block, "worker", "--redis", "redis://h/0"]
    refused = subprocess.run(command, capture_output=True, text=True, env=os.environ, check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "icpscan: error: distributed scans need the 'distributed' extra:"
        " pip install 'icpscan[distributed]'"
    )


def test_embedded_files_are_bounded(tmp_path, monkeypatch):
    from icpscan.distributed import config as config_module

    big = tmp_path / "ca.pem"
    big.write_bytes(b"x" * 2048)
    monkeypatch.setattr(config_module, "EMBED_LIMIT", 1024)
    with pytest.raises(DistributedError, match="too large to ship to the workers"):
        build_document(ScanConfig(db="d", scan_id=1, ca_bundle=str(big)),
                       network_rate=0, network_burst=1, loopback_only=False)  # fmt: skip


@pytest.mark.parametrize(
    "entry",
    [
        {"_class": "subprocess.Popen", "url": "http://a.cn/", "meta": {}},
        {"url": "http://a.cn/", "callback": "parse", "meta": {"icpscan_job": {"domain": "a.cn"}}},
        {"url": "http://a.cn/", "meta": {"no_job": 1}},
        ["not", "a", "dict"],
    ],
)
def test_queue_entries_cannot_choose_classes_or_callbacks(client, entry):
    keys = ScanKeys(new_token())
    queue = ReliableQueue(client, keys)
    client.lpush(keys.requests, json.dumps(entry))
    assert queue.claim("w", 5) == []
    assert queue.held("w") == 0 and len(queue) == 0  # dropped, not retried forever


def test_the_crawl_side_parts_work_without_deprecation_warnings(redis_server, client):
    """The suite turns warnings into errors: the stats collector and the budget middleware
    run against Scrapy 2.19 without any (scrapy-redis's Scheduler, RedisPipeline and
    RedisSpider, which do warn, are not used)."""
    import asyncio

    from scrapy.utils.test import get_crawler

    from icpscan.distributed.politeness import SharedBudgetMiddleware

    keys = ScanKeys(new_token())
    crawler = get_crawler(settings_dict={
        "ICPSCAN_REDIS_URL": redis_server.url, "ICPSCAN_REDIS_SCAN": keys.token,
        "ICPSCAN_NETWORK_RATE": 20.0, "ICPSCAN_NETWORK_BURST": 1,
        "STATS_CLASS": "icpscan.distributed.stats.SharedStatsCollector",
    })  # fmt: skip
    stats = crawler.stats
    stats.inc_value("item_scraped_count", 3)
    stats.inc_value("retry/count")
    stats.set_value("start_time", 1.0)  # per-worker values stay local
    stats.flush()
    stats.inc_value("retry/count")
    stats.close_spider(reason="finished")
    assert client.hgetall(keys.stats) == {b"item_scraped_count": b"3", b"retry/count": b"2"}
    middleware = SharedBudgetMiddleware.from_crawler(crawler)
    pinned = Request("https://a.cn/", meta={META_PIN: Pin("a.cn", "1.2.4.8")})
    assert asyncio.run(middleware.process_request(pinned)) is None
    assert asyncio.run(middleware.process_request(pinned)) is None  # waited ~50 ms
    assert stats.get_value("icpscan/budget/delayed") == 1
    assert client.exists("icpscan:budget:1.2.4.0/24") == 1
