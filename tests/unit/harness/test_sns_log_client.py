"""harness.sns_log (the client) and the plugin's ring buffer, without LocalStack."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.parse
from types import SimpleNamespace

import pytest

from harness.sns_log import (PublishLogPage, PublishRecord, SnsPublishLog,
                             SnsPublishLogUnavailable)
from harness.trace.stages import TopicPublished


RECORD = {
    "api": "Publish", "topic_arn": "arn:aws:sns:us-east-1:000000000000:orders",
    "message_id": "m-1", "timestamp_ms": 1_700_000_000_123, "subject": "hi",
    "attributes": {"k": {"DataType": "String", "StringValue": "v"}},
    "body": "hello", "body_length": 5000, "body_truncated": True, "message_structure": None,
    "message_group_id": None,
    "origin": {"service_principal": "s3", "source_arn": "arn:aws:s3:::uploads"},
    "subscriptions": ["arn:aws:sns:us-east-1:000000000000:orders:sub-1"],
}


def test_record_parsing_gives_typed_fields():
    r = PublishRecord.from_json(RECORD)
    assert r.topic_name == "orders" and r.message_id == "m-1" and r.api == "Publish"
    assert r.at == "2023-11-14T22:13:20.123+00:00"
    assert r.origin_service == "s3" and r.origin_arn == "arn:aws:s3:::uploads"
    assert r.subscriptions == ("arn:aws:sns:us-east-1:000000000000:orders:sub-1",)
    assert r.body_truncated and r.body_length == 5000
    assert r.attributes["k"]["StringValue"] == "v"


def test_record_from_a_client_call_has_no_origin():
    doc = dict(RECORD, origin={}, subscriptions=[])
    r = PublishRecord.from_json(doc)
    assert r.origin_service is None and r.subscriptions == ()


def test_page_parsing_and_a_body_that_is_not_a_log():
    page = PublishLogPage.from_json({"records": [RECORD], "capacity": 10, "held": 4, "total": 7,
                                     "dropped": 3})
    assert (page.capacity, page.held, page.total, page.dropped) == (10, 4, 7, 3)
    assert page.records[0].message_id == "m-1"
    with pytest.raises(SnsPublishLogUnavailable, match="not an SNS publish log"):
        PublishLogPage.from_json({"status": "running"})
    with pytest.raises(SnsPublishLogUnavailable, match="cannot read"):
        PublishLogPage.from_json({"records": [{"topic_arn": "x"}]})


class _Server:
    """A tiny HTTP server answering every GET with ``status`` and ``body``; keeps request paths."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json"):
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    servers = []

    def make(status, body, content_type="application/json"):
        servers.append(_Server(status, body, content_type))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_query_sends_the_filters(server):
    srv = server(200, json.dumps({"records": [RECORD], "capacity": 5, "held": 1, "total": 1,
                                  "dropped": 0}).encode())
    log = SnsPublishLog(SimpleNamespace(endpoint_url=srv.url + "/"))
    records = log.published(topic_arn=RECORD["topic_arn"], contains=["a b", "c"],
                            message_id="m-1", since=1234, limit=7)
    assert [r.message_id for r in records] == ["m-1"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(srv.paths[0]).query)
    assert srv.paths[0].startswith("/_lsh/sns/published?")
    assert query == {"topic_arn": [RECORD["topic_arn"]], "contains": ["a b", "c"],
                     "message_id": ["m-1"], "since": ["1234"], "limit": ["7"]}
    assert log.unavailable_reason() is None


def test_endpoint_absent_says_why_instead_of_crashing(server):
    # what LocalStack without the plugin answers: its S3 takes "_lsh" for a bucket name
    srv = server(404, b"<?xml version='1.0'?><Error><Code>NoSuchBucket</Code></Error>",
                 "application/xml")
    log = SnsPublishLog(srv.url)
    with pytest.raises(SnsPublishLogUnavailable) as info:
        log.published(topic_arn="arn:aws:sns:us-east-1:000000000000:t")
    message = str(info.value)
    assert f"LocalStack at {srv.url} has no SNS publish log" in message
    assert "404" in message and "LSH_SNS_PUBLISH_LOG" in message
    assert "without this project's LocalStack plugins" in message
    assert log.unavailable_reason() == message


def test_an_answer_that_is_not_json_counts_as_absent(server):
    srv = server(200, b"<html>hello</html>", "text/html")
    reason = SnsPublishLog(srv.url).unavailable_reason()
    assert reason and "has no SNS publish log" in reason and "not JSON" in reason


def test_unreachable_localstack_is_named():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reason = SnsPublishLog(f"http://127.0.0.1:{port}", timeout=1).unavailable_reason()
    assert reason and f"LocalStack at http://127.0.0.1:{port} does not answer" in reason


# --- the tracer's SNS stages, with a fake log ---

class _FakeLog:
    def __init__(self, page=None, error=None):
        self.page, self.error, self.calls = page, error, []

    def query(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return self.page


def _stage(log, terms=("api-1",)):
    """The generic TopicPublished stage, asked with a fake log and the given needles."""
    from harness.trace import TraceContext

    ctx = TraceContext(localstack=None, needle=terms[0], needles=set(terms), facts={"sns_log": log})
    return TopicPublished("SNS publish", RECORD["topic_arn"]).probe(ctx)


def test_trace_stage_reached_names_the_message_and_time():
    page = PublishLogPage.from_json({"records": [RECORD], "capacity": 5, "held": 1, "total": 1,
                                     "dropped": 0})
    log = _FakeLog(page)
    stage = _stage(log)
    assert stage.reached is True and stage.at == "2023-11-14T22:13:20.123+00:00"
    assert "message m-1 to orders (via s3" in stage.detail
    assert "handed to 1 subscription," in stage.detail  # a hand-off, not a delivery
    assert log.calls == [{"topic_arn": RECORD["topic_arn"], "contains": ["api-1"]}]


def test_trace_stage_not_reached_or_unknown():
    empty = PublishLogPage([], capacity=5, held=2, total=2, dropped=0)
    stage = _stage(_FakeLog(empty), ("x",))
    assert stage.reached is False and "no message published to orders" in stage.detail
    window = PublishLogPage([], capacity=5, held=5, total=9, dropped=4)
    stage = _stage(_FakeLog(window), ("x",))
    assert stage.reached is None and "4 older ones were dropped" in stage.detail
    absent = _FakeLog(error=SnsPublishLogUnavailable("LocalStack at X has no SNS publish log"))
    stage = _stage(absent, ("x",))
    assert stage.reached is None and stage.detail == (
        "cannot tell: LocalStack at X has no SNS publish log")


def test_publish_terms_cover_each_way_in():
    from harness.trace import TraceContext
    from tests.e2e.upload_pipeline.trace import publish_terms

    def terms(needle, item):
        ctx = TraceContext(None, needle, {needle} | ({item["event_id"]} if item else set()),
                           facts={"item": item})
        return publish_terms(ctx)

    assert '"abc-123"' in terms("bus-abc-123", None)
    assert '"o-1"' in terms("bus-o-1", {"event_id": "bus-o-1"})
    assert "o-1" not in terms("bus-o-1", None)
    s3 = terms("s3-deadbeef", {"event_id": "s3-deadbeef", "object_key": "in/a b+c.csv"})
    assert {"in/a b+c.csv", "in/a%20b%2Bc.csv", "in/a+b%2Bc.csv"} <= set(s3)
    assert terms("api-1", {"event_id": "api-1"}) == ["api-1"]


# --- the plugin's ring buffer (pure Python; LocalStack is imported only when installed) ---

@pytest.fixture
def plugin_module(lsh_plugin):
    return lsh_plugin("sns_log")


def _message(n, body=None, **kw):
    return SimpleNamespace(message=body if body is not None else f"body {n}", message_id=f"m{n}",
                           subject=kw.get("subject"), message_attributes=kw.get("attributes", {}),
                           message_structure=kw.get("structure"), message_group_id=None)


def test_ring_buffer_keeps_the_newest_and_counts_the_dropped(plugin_module):
    log = plugin_module.PublishLog(capacity=3, body_chars=4)
    for n in range(5):
        log.record("Publish", "arn:t", _message(n), {"x-localstack-data": None})
    result = log.query()
    assert [r["message_id"] for r in result["records"]] == ["m2", "m3", "m4"]
    assert (result["held"], result["total"], result["dropped"]) == (3, 5, 2)
    assert result["records"][0]["body"] == "body" and result["records"][0]["body_truncated"]


def test_ring_buffer_filters(plugin_module):
    log = plugin_module.PublishLog()
    log.record("Publish", "arn:a", _message(1, "order o-1"), {})
    log.record("Publish", "arn:b", _message(2, "order o-2", subject="o-9"), {
        "x-localstack-data": json.dumps({"service_principal": "events", "source_arn": "arn:r"})})
    log.record("PublishBatch", "arn:a", _message(3, {"default": "o-3"}, structure="json"), {})
    ids = lambda **kw: [r["message_id"] for r in log.query(**kw)["records"]]  # noqa: E731
    assert ids(topic_arn="arn:a") == ["m1", "m3"]
    assert ids(contains=["o-2", "o-3"]) == ["m2", "m3"]
    assert ids(contains=["o-9"]) == ["m2"]  # the subject counts too
    assert ids(message_id="m2") == ["m2"]
    assert ids(limit=2) == ["m2", "m3"]
    assert ids(since=10**15) == []
    second = log.query(message_id="m2")["records"][0]
    assert second["origin"] == {"service_principal": "events", "source_arn": "arn:r"}
    assert json.loads(log.query(message_id="m3")["records"][0]["body"]) == {"default": "o-3"}


def test_ring_buffer_limit_zero_gives_only_the_counts(plugin_module):
    log = plugin_module.PublishLog()
    log.record("Publish", "arn:a", _message(1), {})
    assert log.query(limit=0)["records"] == [] and log.query(limit=0)["total"] == 1
