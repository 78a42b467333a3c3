"""The upload pipeline's stages for :class:`harness.trace.Tracer`: where one of its events is.

Given an event id (``s3-…``, ``api-…``, ``bus-…``) or any marker in its payload (an object key,
an order id): the way in (the upload in S3), the publish to the pipeline topic, the ingest queue
and DLQ, the processor's logs, the events table, the confirmation queue and DLQ, the confirmation
sender's logs, CONFIRMED, and the notification published. The generic stages come from
:mod:`harness.trace.stages`; the ones that know the app's item shape are here.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from boto3.dynamodb.conditions import Attr

from harness.localstack.base import LocalStack
from harness.trace import Stage, TraceContext, Tracer
from harness.trace.stages import DeadLetters, FunctionLogs, QueueDepth, TopicPublished


def _item(ctx: TraceContext) -> dict | None:
    return ctx.facts.get("item")


def find_item(outputs: dict[str, str]):
    """``expand`` for the tracer: find the event's item (by id, object key or payload text),
    remember it, and add its event id to the needles."""
    def expand(ctx: TraceContext) -> list[str]:
        table = ctx.localstack.resource("dynamodb").Table(outputs["EventsTableName"])
        item = table.get_item(Key={"event_id": ctx.needle}, ConsistentRead=True).get("Item")
        if not item:
            found = table.scan(FilterExpression=Attr("object_key").eq(ctx.needle)
                               | Attr("payload").contains(ctx.needle)).get("Items", [])
            item = found[0] if found else None
        ctx.facts["item"] = item
        return [item["event_id"]] if item else []

    return expand


def publish_terms(ctx: TraceContext) -> list[str]:
    """Strings the message published for this event holds in its body.

    An API event's body holds its id; a bus event's holds the EventBridge event id (or the
    caller's ``event_id``) without the ``bus-`` prefix; an S3 notification holds the object key,
    URL-encoded as S3 sends it (an ``s3-…`` id is a hash: only its key can be found).
    """
    item = _item(ctx)
    terms = list(ctx.needles)
    if item and item.get("object_key"):
        terms.append(item["object_key"])
    for term in list(terms):  # LocalStack's S3 quotes keys ("a b" -> "a%20b"), AWS's quote_plus
        terms += [urllib.parse.quote(term), urllib.parse.quote_plus(term, safe="/")]
    for event_id in ctx.needles:
        if event_id.startswith("bus-"):  # as a whole JSON string: a short id is no substring
            terms.append(json.dumps(event_id[len("bus-"):]))
    return list(dict.fromkeys(t for t in terms if t))


@dataclass
class UploadInS3:
    name: str
    bucket: str

    def probe(self, ctx: TraceContext) -> Stage:
        item = _item(ctx)
        needle = ctx.needle
        key = (item or {}).get("object_key") or (needle if "/" in needle or "." in needle else None)
        if not key:
            return Stage("way in", None, f"source {(item or {}).get('source', '?')}: "
                                         "not an upload, nothing to look at in S3")
        try:
            head = ctx.client("s3").head_object(Bucket=self.bucket, Key=key)
            return Stage(self.name, True, f"s3://{self.bucket}/{key} "
                         f"({head['ContentLength']} bytes)", head["LastModified"].isoformat())
        except Exception:  # noqa: BLE001
            return Stage(self.name, False, f"no object {key!r} in the uploads bucket")


@dataclass
class Recorded:
    name: str = "events table"

    def probe(self, ctx: TraceContext) -> Stage:
        item = _item(ctx)
        if not item:
            return Stage(self.name, False, "no item")
        return Stage(self.name, True, f"item {item['event_id']} status {item['status']}",
                     item.get("recorded_at") or item.get("received_at"))


@dataclass
class Confirmed:
    name: str = "confirmed"

    def probe(self, ctx: TraceContext) -> Stage:
        item = _item(ctx)
        if not item or item.get("status") != "CONFIRMED":
            return Stage(self.name, False, f"status {(item or {}).get('status', 'unknown')}")
        return Stage(self.name, True, "status CONFIRMED", item.get("confirmed_at"))


@dataclass
class NotificationPublished(TopicPublished):
    def probe(self, ctx: TraceContext) -> Stage:
        if not _item(ctx):
            return Stage(self.name, False, "nothing to look for (no event item)")
        return super().probe(ctx)


def pipeline_tracer(localstack: LocalStack, outputs: dict[str, str]) -> Tracer:
    """The upload pipeline's tracer, from its stack's outputs."""
    o = outputs
    return Tracer(localstack, [
        UploadInS3("upload in S3", o["BucketName"]),
        TopicPublished("SNS publish", o["TopicArn"], terms=publish_terms),
        QueueDepth("ingest queue", o["IngestQueueUrl"]),
        DeadLetters("ingest DLQ", o["IngestDlqUrl"]),
        FunctionLogs("processor Lambda", o["ProcessorFunctionName"]),
        Recorded(),
        QueueDepth("confirmation queue", o["ConfirmationQueueUrl"]),
        DeadLetters("confirmation DLQ", o["ConfirmationDlqUrl"]),
        FunctionLogs("confirmation sender Lambda", o["ConfirmationSenderFunctionName"]),
        Confirmed(),
        NotificationPublished("notification published", o["NotificationTopicArn"]),
    ], expand=find_item(outputs))
