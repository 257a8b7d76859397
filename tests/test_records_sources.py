"""Record sources: export files in every accepted shape, and the HTTP JSON source against the
sandbox's mock lookup service on loopback (throttling, blocking, schema change, cache, rate)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icpscan import store
from icpscan.records import (
    BlockedError,
    FileRecordSource,
    HttpRecordSource,
    RecordConfigError,
    SchemaChangedError,
    ServiceConfig,
    ThrottledError,
    read_records,
)
from icpscan.records.cache import DatasetCache, save_answers
from icpscan.records.fields import normalise_domain, record_from_mapping
from icpscan.records.limits import RateLimiter, SqliteRateLimiter
from icpscan.records.service import AnswerCache, parse_retry_after
from icpscan.sandbox.records import RecordRow
from icpscan.sandbox.records_service import RecordService

MIIT_CSV = (
    "domain,unitName,natureName,mainLicence,serviceLicence,contentTypeName,updateRecordTime\n"
    "baidu.com,北京百度网讯科技有限公司,企业,京ICP证030173号,京ICP证030173号-1,,"
    "2022-10-11 09:27:57\n"
    "qq.com,深圳市腾讯计算机系统有限公司,企业,粤B2-20090059,粤B2-20090059-5,"
    "出版、文化、新闻、宗教,2022-09-06 15:51:52\n"
)


def test_miit_named_csv(tmp_path):
    path = tmp_path / "records.csv"
    path.write_text(MIIT_CSV, encoding="utf-8")
    source = FileRecordSource(path)
    [qq] = source.lookup("qq.com").records
    assert (qq.entity_name, qq.entity_type) == ("深圳市腾讯计算机系统有限公司", "企业")
    assert (qq.entity_number, qq.site_number) == ("粤B2-20090059", "粤B2-20090059-5")
    assert qq.content_types == ("出版", "文化", "新闻", "宗教")
    assert qq.approval_time == "2022-09-06 15:51:52"
    assert qq.source == "file:records.csv"
    assert source.lookup("example.cn").records == ()
    assert [r.domain for r in source.lookup_number("粤B2-20090059-9").records] == ["qq.com"]


def test_own_names_jsonl_with_normalisation(tmp_path):
    path = tmp_path / "r.jsonl"
    rows = [
        {"domain": "WWW.Example.CN", "entity_name": "甲", "entity_type": "个人",
         "site_number": " 川ＩＣＰ备15095485号 - 1", "content_types": ["新闻"],
         "limit_access": "否"},
        {"domain": "https://例子.中国/about", "entity_number": "京ICP备2021012345号"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    source = FileRecordSource(path)
    [first] = source.lookup("example.cn").records
    assert first.domain == "www.example.cn"  # as filed; indexed under its registrable domain
    assert first.site_number == "川ICP备15095485号-1"
    assert first.entity_number == "川ICP备15095485号"  # derived from the site number
    assert first.limit_access is False and first.content_types == ("新闻",)
    [idn] = source.lookup("xn--fsqu00a.xn--fiqs8s").records
    assert idn.entity_number == "京ICP备2021012345号"
    # the issued character finds the record written with the alternate one
    assert [r.domain for r in source.lookup_number("蜀ICP备15095485号-3").records] == [
        "www.example.cn"
    ]


def test_chinese_headers_in_gb18030_and_json_array(tmp_path):
    csv_path = tmp_path / "导出.csv"
    csv_path.write_bytes(
        "网站域名,主办单位名称,主办单位性质,网站备案号,审核日期\n"
        "example.cn,某某公司,企业,京ICP备2021012345号-2,2024-01-02\n".encode("gb18030")
    )
    [record] = read_records(csv_path)
    assert (record.domain, record.entity_number, record.site_number) == (
        "example.cn", "京ICP备2021012345号", "京ICP备2021012345号-2",
    )  # fmt: skip
    array = tmp_path / "r.json"
    array.write_text(json.dumps([{"domain": "a.cn", "mainLicence": "浙B2-20080101"}]))
    assert [r.entity_number for r in read_records(array)] == ["浙B2-20080101"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.csv", "name,licence\nx,y\n", "a.csv: no domain column"),
        ("b.csv", "domain,unitName\nx.cn,y\n", "b.csv: no number column"),
        (
            "c.jsonl",
            '{"domain": "a.cn", "mainLicence": "京ICP备2021012345号"}\n{oops\n',
            "c.jsonl:2: not valid JSON",
        ),
        (
            "d.jsonl",
            '{"mainLicence": "京ICP备2021012345号"}\n',
            "d.jsonl:1: record without a domain",
        ),
        ("e.csv", "domain,mainLicence\na.cn,\n", "e.csv:2: record for a.cn has neither"),
    ],
)
def test_bad_files_name_the_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordConfigError) as info:
        read_records(path)
    assert message in str(info.value)


@given(st.text(max_size=40))
def test_record_fields_never_crash_on_junk(value):
    row = {"domain": "a.cn", "mainLicence": value or "x", "natureName": value,
           "contentTypeName": value, "limitAccess": value}  # fmt: skip
    try:
        record = record_from_mapping(row, source="t")
    except RecordConfigError:
        return
    assert record.entity_number and len(record.entity_number) <= 500
    assert all(item for item in record.content_types)


def test_normalise_domain():
    assert normalise_domain("HTTPS://user@WWW.Example.CN:8443/x?y#z") == "www.example.cn"
    assert normalise_domain("例子.中国.") == "xn--fsqu00a.xn--fiqs8s"


# -- the HTTP source -------------------------------------------------------------------------

ROWS = [
    RecordRow(
        "example.cn", "某某科技有限公司", "企业", "京ICP备2021012345号", "京ICP备2021012345号-1"
    ),
    RecordRow(
        "example.cn", "某某科技有限公司", "企业", "京ICP备2021012345号", "京ICP备2021012345号-2"
    ),
    RecordRow(
        "sister.cn", "某某科技有限公司", "企业", "京ICP备2021012345号", "京ICP备2021012345号-3"
    ),
]


@pytest.fixture
def service():
    with RecordService(ROWS) as svc:
        yield svc


def make_source(svc, tmp_path, sleeps=None, **overrides):
    path = tmp_path / "service.toml"
    path.write_text(svc.config_text(**overrides), encoding="utf-8")
    config = ServiceConfig.load(path, env={"ICPSCAN_SANDBOX_RECORDS_TOKEN": "s3cret"})
    waits = [] if sleeps is None else sleeps

    def sleep(seconds):
        waits.append(round(seconds, 1))

    return HttpRecordSource(config, limiter=RateLimiter(0.0, sleep=sleep), sleep=sleep), waits


def test_service_lookup_cache_and_negative_cache(service, tmp_path):
    source, _ = make_source(service, tmp_path)
    answer = source.lookup("example.cn")
    assert [r.site_number for r in answer.records] == [
        "京ICP备2021012345号-1",
        "京ICP备2021012345号-2",
    ]
    assert answer.records[0].source == "service:sandbox-records" and not answer.cached
    assert source.lookup("unknown.cn").records == ()
    again, missing = source.lookup("example.cn"), source.lookup("unknown.cn")
    assert again.cached and missing.cached and missing.records == ()
    assert service.requests == 2
    owners = source.lookup_number("京ICP备2021012345号-3")
    assert sorted(r.domain for r in owners.records) == ["example.cn", "example.cn", "sister.cn"]
    assert service.queries[-1] == ("number", "京ICP备2021012345号-3")


def test_auth_header_from_the_environment(service, tmp_path):
    service.token = "s3cret"
    source, _ = make_source(service, tmp_path)
    assert len(source.lookup("example.cn").records) == 2
    path = tmp_path / "service.toml"
    with pytest.raises(RecordConfigError, match="needs environment variable"):
        ServiceConfig.load(path, env={})
    wrong = HttpRecordSource(ServiceConfig.load(path, env={"ICPSCAN_SANDBOX_RECORDS_TOKEN": "x"}))
    with pytest.raises(BlockedError, match="401"):
        wrong.lookup("example.cn")


def test_throttling_honours_retry_after_then_succeeds(service, tmp_path):
    service.throttle_first, service.retry_after = 2, "3"
    source, waits = make_source(service, tmp_path)
    assert len(source.lookup("example.cn").records) == 2
    assert service.statuses == {429: 2, 200: 1}
    assert waits == [3.0, 3.0]  # the limiter held the next request back by Retry-After


def test_throttling_that_does_not_stop_is_a_throttled_error(service, tmp_path):
    service.throttle_first = 100
    source, _ = make_source(service, tmp_path, retries=2)
    with pytest.raises(ThrottledError) as info:
        source.lookup("example.cn")
    assert info.value.kind == "throttled" and info.value.retry_after == 1.0
    assert service.requests == 3
    service.retry_after = "600"  # longer than max_wait: give up at once
    with pytest.raises(ThrottledError):
        source.lookup("sister.cn")
    assert service.requests == 4


def test_blocked_is_sticky(service, tmp_path):
    service.block_after = 1
    source, _ = make_source(service, tmp_path)
    assert len(source.lookup("example.cn").records) == 2
    with pytest.raises(BlockedError, match="403"):
        source.lookup("sister.cn")
    with pytest.raises(BlockedError, match="not asked again"):
        source.lookup("other.cn")
    assert service.requests == 2
    assert source.lookup("example.cn").cached  # what was learnt before still answers


def test_schema_change_is_detected_and_sticky(service, tmp_path):
    service.schema_after = 1
    source, _ = make_source(service, tmp_path)
    assert len(source.lookup("example.cn").records) == 2
    with pytest.raises(SchemaChangedError, match=r"no 'data\.list'"):
        source.lookup("sister.cn")
    with pytest.raises(SchemaChangedError):
        source.lookup("unknown.cn")
    assert service.requests == 2


def test_records_without_the_mapped_fields_are_a_schema_change(service, tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({
        "url": f"{service.base_url}/api/icp?domain={{domain}}", "records": "data.list",
        "fields": {"entity_number": "licence", "site_number": "site_licence"},
    }))  # fmt: skip
    source = HttpRecordSource(ServiceConfig.load(path))
    with pytest.raises(SchemaChangedError, match="has no 'licence', 'site_licence'"):
        source.lookup("example.cn")


def test_unreachable_service(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"url": "http://127.0.0.1:9/x?d={domain}", "retries": 1,
                               "rate_limit": {"requests": 100}}))  # fmt: skip
    source = HttpRecordSource(ServiceConfig.load(path), sleep=lambda s: None)
    with pytest.raises(Exception) as info:
        source.lookup("example.cn")
    assert info.value.kind == "unavailable"
    assert "cannot reach" in str(info.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "url is required"),
        ({"url": "ftp://x/{domain}"}, "must be an http:// or https:// URL"),
        ({"url": "https://x/lookup"}, "must contain {domain}"),
        ({"url": "https://x/{domain}", "speed": 3}, "unknown setting(s): speed"),
        ({"url": "https://x/{domain}", "fields": {"owner": "x"}}, "unknown record field(s) owner"),
        ({"url": "https://x/{domain}", "rate_limit": {"requests": 0}}, "rate_limit needs"),
    ],
)
def test_config_errors(tmp_path, config, message):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    with pytest.raises(RecordConfigError) as info:
        ServiceConfig.load(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))


def test_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_shared_rate_limit_and_dataset_cache(tmp_path):
    db_path = tmp_path / "scan.db"
    store.open_db(db_path).conn.close()
    waits: list[float] = []
    clock = [1000.0]
    first = SqliteRateLimiter(db_path, "service:x", 0.5, sleep=waits.append)
    second = SqliteRateLimiter(db_path, "service:x", 0.5, sleep=waits.append)
    first._now = second._now = lambda: clock[0]  # a frozen clock: every slot is reserved ahead
    first.acquire()
    second.acquire()
    first.acquire()
    second.defer(10)
    first.acquire()
    assert waits == [0.5, 1.0, 10.0]
    # answers kept in the dataset serve later lookups (and other workers)
    source_file = tmp_path / "r.csv"
    source_file.write_text(MIIT_CSV, encoding="utf-8")
    file_source = FileRecordSource(source_file)
    conn = sqlite3.connect(db_path)
    with conn:
        added = save_answers(
            conn, "service:x",
            [("domain", file_source.lookup("qq.com")), ("domain", file_source.lookup("no.cn"))],
            None,
        )  # fmt: skip
    assert added == 2
    cache = AnswerCache(30, 7, DatasetCache(db_path))
    hit = cache.get("service:x", "domain", "qq.com")
    assert hit is not None and hit.cached and hit.records == file_source.lookup("qq.com").records
    assert cache.get("service:x", "domain", "no.cn").records == ()
    assert cache.get("service:y", "domain", "qq.com") is None
    expired = AnswerCache(0, 0, DatasetCache(db_path))
    assert expired.get("service:x", "domain", "qq.com") is None


def test_a_database_of_the_first_schema_upgrades_in_place(tmp_path):
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    first = Migrations("icpscan")
    first()(store.m001_initial)
    first.apply(old)
    old.conn.close()
    db = store.open_db(path)
    assert {"record_lookups", "filing_records", "record_service_slots"} <= set(db.table_names())
    assert set(store.M002_VIEWS) <= set(db.view_names())
    assert list(db.query("SELECT * FROM changes_between_last_two_scans")) == []
