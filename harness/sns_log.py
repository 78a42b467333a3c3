"""What was published to SNS topics, read from the harness's LocalStack plugin.

LocalStack keeps no record of topic publishes, so the harness's LocalStack plugin
(``lsh_localstack_plugins.sns_log``, on with ``LSH_SNS_PUBLISH_LOG=1``, which the harness sets)
keeps the last ``LSH_SNS_PUBLISH_LOG_SIZE`` (10 000) publishes to any topic in memory: direct
``Publish`` / ``PublishBatch`` calls, and publishes from S3 event notifications and EventBridge
targets. This module reads them through the LocalStack handle's endpoint::

    from harness.sns_log import SnsPublishLog

    log = SnsPublishLog(localstack)
    for record in log.published(topic_arn=topic, contains="order-17"):
        print(record.at, record.message_id, record.origin_service, record.body)

Each :class:`PublishRecord` carries the topic ARN, message id, time, API, subject, message
attributes, body (first 4096 characters; ``body_truncated`` says when there was more), the
service that published it on LocalStack's internal calls (``s3``, ``events``; ``None`` for a
client's own call) and the subscriptions it was handed to.

A LocalStack without the plugin (an external one, another image, or ``LSH_SNS_PUBLISH_LOG=0``)
has no such record: then :meth:`SnsPublishLog.published` raises :class:`SnsPublishLogUnavailable`,
whose message says why, and :meth:`SnsPublishLog.unavailable_reason` returns that reason.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterable

from harness.errors import HarnessError

ROUTE = "/_lsh/sns/published"


class SnsPublishLogUnavailable(HarnessError):
    """The LocalStack in use keeps no SNS publish log (or could not be asked). Says why."""


@dataclass(frozen=True)
class PublishRecord:
    """One message published to a topic, as LocalStack's SNS provider received it."""

    topic_arn: str
    message_id: str
    timestamp_ms: int
    api: str  # "Publish" or "PublishBatch"
    body: str  # the first ``body_chars`` characters of the message
    body_length: int
    body_truncated: bool
    subject: str | None = None
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    message_structure: str | None = None
    message_group_id: str | None = None
    #: the AWS service that published it through LocalStack's internal client ("s3", "events")
    origin_service: str | None = None
    origin_arn: str | None = None  # e.g. the bucket or the EventBridge rule
    subscriptions: tuple[str, ...] = ()

    @property
    def at(self) -> str:
        """The publish time, ISO 8601 in UTC with milliseconds."""
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, dt.timezone.utc).isoformat(
            timespec="milliseconds")

    @property
    def topic_name(self) -> str:
        return self.topic_arn.rsplit(":", 1)[-1]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "PublishRecord":
        origin = doc.get("origin") or {}
        return cls(
            topic_arn=doc["topic_arn"], message_id=doc["message_id"],
            timestamp_ms=int(doc["timestamp_ms"]), api=doc.get("api", "Publish"),
            body=doc.get("body") or "", body_length=int(doc.get("body_length") or 0),
            body_truncated=bool(doc.get("body_truncated")), subject=doc.get("subject"),
            attributes=dict(doc.get("attributes") or {}),
            message_structure=doc.get("message_structure"),
            message_group_id=doc.get("message_group_id"),
            origin_service=origin.get("service_principal"), origin_arn=origin.get("source_arn"),
            subscriptions=tuple(doc.get("subscriptions") or ()))


@dataclass(frozen=True)
class PublishLogPage:
    """An answer of the log: matching records (oldest first) and the state of the buffer."""

    records: list[PublishRecord]
    capacity: int  # how many publishes the buffer holds at most
    held: int  # how many it holds now
    total: int  # publishes recorded since LocalStack started
    dropped: int  # pushed out of the buffer by newer ones

    @classmethod
    def from_json(cls, doc: Any, source: str = "the SNS publish log") -> "PublishLogPage":
        if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
            raise SnsPublishLogUnavailable(
                f"{source} answered something that is not an SNS publish log "
                f"(no 'records' list): {str(doc)[:200]}")
        try:
            return cls(records=[PublishRecord.from_json(r) for r in doc["records"]],
                       capacity=int(doc.get("capacity", 0)), held=int(doc.get("held", 0)),
                       total=int(doc.get("total", 0)), dropped=int(doc.get("dropped", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise SnsPublishLogUnavailable(
                f"{source} answered a record this client cannot read ({exc!r})") from None


def _ms(since: int | float | dt.datetime | None) -> int | None:
    if since is None:
        return None
    if isinstance(since, dt.datetime):
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
        return int(since.timestamp() * 1000)
    return int(since)


class SnsPublishLog:
    """Reads the SNS publish log of a LocalStack (a :class:`~harness.localstack.LocalStack` handle
    or an endpoint URL)."""

    def __init__(self, localstack: Any, timeout: float = 5.0):
        endpoint = localstack if isinstance(localstack, str) else localstack.endpoint_url
        self.endpoint_url = endpoint.rstrip("/")
        self.timeout = timeout

    @property
    def url(self) -> str:
        return self.endpoint_url + ROUTE

    def query(self, topic_arn: str | None = None, contains: str | Iterable[str] | None = None,
              message_id: str | None = None, since: int | float | dt.datetime | None = None,
              limit: int | None = None) -> PublishLogPage:
        """Matching publishes and the buffer's state. ``contains``: the body or subject holds
        any of these strings; ``since``: ms since the epoch or a datetime; ``limit``: the newest
        ones only (the server's default is 1000)."""
        params: list[tuple[str, str]] = []
        if topic_arn:
            params.append(("topic_arn", topic_arn))
        if message_id:
            params.append(("message_id", message_id))
        if contains:
            terms = [contains] if isinstance(contains, str) else list(contains)
            params += [("contains", term) for term in terms if term]
        if since is not None:
            params.append(("since", str(_ms(since))))
        if limit is not None:
            params.append(("limit", str(int(limit))))
        url = self.url + ("?" + urllib.parse.urlencode(params) if params else "")
        return PublishLogPage.from_json(self._get(url), source=f"GET {url}")

    def published(self, topic_arn: str | None = None,
                  contains: str | Iterable[str] | None = None, message_id: str | None = None,
                  since: int | float | dt.datetime | None = None,
                  limit: int | None = None) -> list[PublishRecord]:
        """The matching publishes, oldest first (see :meth:`query`)."""
        return self.query(topic_arn, contains, message_id, since, limit).records

    def clear(self) -> None:
        """Empty the buffer (for every user of this LocalStack: mind shared instances)."""
        request = urllib.request.Request(self.url, method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):
                pass
        except urllib.error.HTTPError as exc:
            raise SnsPublishLogUnavailable(self._absent(exc.code)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise SnsPublishLogUnavailable(self._unreachable(exc)) from None

    def unavailable_reason(self) -> str | None:
        """None when the log can be read, else why not (in words)."""
        try:
            self.query(limit=0)
        except SnsPublishLogUnavailable as exc:
            return str(exc)
        return None

    # --- plumbing ---
    def _get(self, url: str) -> Any:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise SnsPublishLogUnavailable(self._absent(exc.code)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise SnsPublishLogUnavailable(self._unreachable(exc)) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise SnsPublishLogUnavailable(
                f"LocalStack at {self.endpoint_url} has no SNS publish log: GET {ROUTE} answered "
                f"something that is not JSON ({raw[:120]!r}); " + _FIX) from None

    def _absent(self, status: int) -> str:
        if status == 400:
            return f"LocalStack at {self.endpoint_url} refused the SNS publish log query (400)"
        return (f"LocalStack at {self.endpoint_url} has no SNS publish log (GET {ROUTE} answered "
                f"{status}): " + _FIX)

    def _unreachable(self, exc: BaseException) -> str:
        reason = getattr(exc, "reason", exc)
        return f"cannot read the SNS publish log: LocalStack at {self.endpoint_url} does not " \
               f"answer ({reason})"


_FIX = ("it runs without this project's LocalStack plugins (an external LocalStack or another "
        "image) or with LSH_SNS_PUBLISH_LOG=0, so publishes to topics are not recorded. Run "
        "LocalStack through the harness (backend embedded, or testcontainers with the project's "
        "image) to see them.")
