"""A record of what was published to SNS topics, served at ``GET /_lsh/sns/published``.

LocalStack keeps no record of topic publishes (only of SMS and platform-endpoint messages), so a
stuck-event diagnosis cannot tell whether a message ever reached a topic. With
``LSH_SNS_PUBLISH_LOG=1`` (the harness sets it), every publish to a topic is kept in a bounded
in-memory ring buffer: the last ``LSH_SNS_PUBLISH_LOG_SIZE`` (10 000) publishes, each with its
topic ARN, message id, time (ms), API (``Publish`` / ``PublishBatch``), subject, message
attributes, body (first ``LSH_SNS_PUBLISH_LOG_BODY_CHARS``, 4096, characters), where it came from
(the service principal and source ARN LocalStack passes on internal calls, e.g. S3 event
notifications and EventBridge targets) and the subscriptions it was handed to.

It hooks LocalStack's ``PublishDispatcher.publish_to_topic`` / ``publish_batch_to_topic``, which
every topic publish goes through: the ``Publish`` and ``PublishBatch`` API calls, and S3 and
EventBridge, which call ``Publish`` through LocalStack's internal client. Per publish it costs a
small dict and a deque append under a lock: no I/O, no copies of large bodies.

Query parameters of the route (all optional; they combine with AND):

- ``topic_arn``: only this topic;
- ``message_id``: only this message;
- ``contains`` (repeatable): the body or subject contains at least one of these strings;
- ``since``: published at or after this time (ms since the epoch);
- ``limit``: at most this many records, the newest ones (default 1000).

The answer is JSON: ``records`` (oldest first) plus ``capacity``, ``held``, ``total`` (publishes
recorded since start) and ``dropped`` (pushed out of the buffer). ``DELETE`` empties the buffer.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import deque
from typing import Any

ROUTE = "/_lsh/sns/published"
ENABLED_VAR = "LSH_SNS_PUBLISH_LOG"
SIZE_VAR = "LSH_SNS_PUBLISH_LOG_SIZE"
BODY_VAR = "LSH_SNS_PUBLISH_LOG_BODY_CHARS"
DEFAULT_SIZE = 10_000
DEFAULT_BODY_CHARS = 4096
DEFAULT_LIMIT = 1000
_INTERNAL_HEADER = "x-localstack-data"  # localstack.aws.connect.INTERNAL_REQUEST_PARAMS_HEADER


def enabled() -> bool:
    return os.environ.get(ENABLED_VAR, "0").strip().lower() in ("1", "true", "yes", "on")


class PublishLog:
    """The ring buffer. Records are plain dicts; the slow conversions happen when read."""

    def __init__(self, capacity: int = DEFAULT_SIZE, body_chars: int = DEFAULT_BODY_CHARS):
        self.capacity = max(1, int(capacity))
        self.body_chars = max(0, int(body_chars))
        self._records: deque[dict[str, Any]] = deque(maxlen=self.capacity)
        self._lock = threading.Lock()
        self.total = 0

    # --- write side: called on every publish, keep it cheap ---
    def record(self, api: str, topic_arn: str, message: Any, request_headers: Any) -> dict:
        body = message.message
        if not isinstance(body, str):  # MessageStructure=json: decoded into a dict
            try:
                body = json.dumps(body)
            except (TypeError, ValueError):
                body = str(body)
        entry = {
            "api": api,
            "topic_arn": topic_arn,
            "message_id": message.message_id,
            "timestamp_ms": int(time.time() * 1000),
            "subject": message.subject,
            "attributes": message.message_attributes,  # converted when read
            "body": body[:self.body_chars],
            "body_length": len(body),
            "message_structure": message.message_structure,
            "message_group_id": message.message_group_id,
            "origin": _header(request_headers, _INTERNAL_HEADER),  # parsed when read
            "subscriptions": [],
        }
        with self._lock:
            self._records.append(entry)
            self.total += 1
        return entry

    # --- read side ---
    def query(self, topic_arn: str | None = None, message_id: str | None = None,
              contains: list[str] | None = None, since: int | None = None,
              limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        with self._lock:
            records = list(self._records)
            total = self.total
        held = len(records)
        found = []
        # newest first, so that `limit` keeps the newest
        for r in reversed(records if limit > 0 else ()):
            if since is not None and r["timestamp_ms"] < since:
                continue
            if topic_arn and r["topic_arn"] != topic_arn:
                continue
            if message_id and r["message_id"] != message_id:
                continue
            if contains and not any(c in r["body"] or c in (r["subject"] or "")
                                    for c in contains):
                continue
            found.append(r)
            if len(found) >= limit:
                break
        found.reverse()
        return {"records": [_public(r) for r in found], "capacity": self.capacity, "held": held,
                "total": total, "dropped": total - held, "body_chars": self.body_chars}

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


def _header(headers: Any, name: str) -> str | None:
    try:
        return headers.get(name) if headers is not None else None
    except Exception:
        return None


def _public(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    out["subscriptions"] = list(record["subscriptions"])
    out["body_truncated"] = record["body_length"] > len(record["body"])
    attributes = {}
    for name, value in (record["attributes"] or {}).items():
        value = dict(value)
        if isinstance(value.get("BinaryValue"), (bytes, bytearray)):
            value["BinaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        attributes[name] = value
    out["attributes"] = attributes
    origin = {}
    if record["origin"]:
        try:
            data = json.loads(record["origin"])
            origin = {"service_principal": data.get("service_principal"),
                      "source_arn": data.get("source_arn")}
        except (ValueError, AttributeError):
            origin = {}
    out["origin"] = origin
    return out


LOG: PublishLog | None = None
_current = threading.local()  # message id -> record, while publish_to_topic runs in this thread


def _remember_subscriber(ctx: Any, subscriber: dict) -> None:
    pending = getattr(_current, "records", None)
    if not pending:
        return
    messages = getattr(ctx, "messages", None) or [getattr(ctx, "message", None)]
    arn = subscriber.get("SubscriptionArn")
    for message in messages:
        entry = pending.get(getattr(message, "message_id", None))
        if entry is not None and arn not in entry["subscriptions"]:
            entry["subscriptions"].append(arn)


def _hook_publisher(log: PublishLog) -> None:
    from localstack.services.sns.publisher import PublishDispatcher

    if getattr(PublishDispatcher, "_lsh_logged", False):
        return
    publish_to_topic = PublishDispatcher.publish_to_topic
    publish_batch_to_topic = PublishDispatcher.publish_batch_to_topic
    submit = PublishDispatcher._submit_notification

    def logged_publish_to_topic(self, ctx, topic_arn):
        entry = log.record("Publish", topic_arn, ctx.message, ctx.request_headers)
        _current.records = {entry["message_id"]: entry}
        try:
            return publish_to_topic(self, ctx, topic_arn)
        finally:
            _current.records = None

    def logged_publish_batch_to_topic(self, ctx, topic_arn):
        entries = [log.record("PublishBatch", topic_arn, m, ctx.request_headers)
                   for m in ctx.messages]
        _current.records = {e["message_id"]: e for e in entries}
        try:
            return publish_batch_to_topic(self, ctx, topic_arn)
        finally:
            _current.records = None

    def logged_submit(self, notifier, ctx, subscriber):
        try:
            _remember_subscriber(ctx, subscriber)
        except Exception:  # never let the record break a delivery
            pass
        return submit(self, notifier, ctx, subscriber)

    PublishDispatcher.publish_to_topic = logged_publish_to_topic
    PublishDispatcher.publish_batch_to_topic = logged_publish_batch_to_topic
    PublishDispatcher._submit_notification = logged_submit
    PublishDispatcher._lsh_logged = True


def make_resource(log: PublishLog) -> Any:
    """The internal HTTP route, on LocalStack's edge ``ROUTER`` as SNS's ``/_aws/sns/...`` are."""
    from lsh_localstack_plugins.log_route import log_resource

    return log_resource(ROUTE, log, ("topic_arn", "message_id"), DEFAULT_LIMIT)


def install() -> PublishLog | None:
    """Hook the SNS publisher and add the route, if ``LSH_SNS_PUBLISH_LOG`` is on."""
    global LOG
    if not enabled():
        return None
    if LOG is None:
        LOG = PublishLog(int(os.environ.get(SIZE_VAR) or DEFAULT_SIZE),
                         int(os.environ.get(BODY_VAR) or DEFAULT_BODY_CHARS))
        from localstack.services.edge import ROUTER

        _hook_publisher(LOG)
        ROUTER.add(make_resource(LOG))
    return LOG
