"""Where is my event? A stage-by-stage account of one event in the reference pipeline.

Given an event id (``s3-…``, ``api-…``, ``bus-…``) or any marker in its payload (an object key,
an order id), each stage is asked what it saw, without disturbing anything: the source queues are
only counted (receiving would count against their redrive policy), DLQs are peeked
(:func:`harness.probes.peek_messages`: read and shown again at once), Lambda logs are searched
for the id, the table is read, and the SNS publish log of the harness's LocalStack plugin
(:mod:`harness.sns_log`) is searched for the publishes to the pipeline topic and to the
notification topic. Against a LocalStack without that plugin those two stages say "?" and why.

``lsh trace EVENT_ID`` prints it; :meth:`PipelineClient.wait_for_status` attaches it to a timeout.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from dataclasses import dataclass, field

from harness.localstack.base import LocalStack
from harness.probes import peek_messages, queue_depth
from harness.sns_log import PublishRecord, SnsPublishLog, SnsPublishLogUnavailable


@dataclass
class Stage:
    name: str
    reached: bool | None  # None: cannot tell from here
    detail: str
    at: str | None = None


@dataclass
class Trace:
    needle: str
    stages: list[Stage] = field(default_factory=list)

    @property
    def where(self) -> str:
        reached = [s for s in self.stages if s.reached]
        return reached[-1].name if reached else "nowhere the pipeline can see"

    def render(self) -> str:
        lines = [f"trace of {self.needle!r}: last seen at {self.where}"]
        for s in self.stages:
            mark = {True: "✔", False: "✘", None: "?"}[s.reached]
            when = f" {s.at}" if s.at else ""
            lines.append(f"  {mark} {s.name:<22}{when}  {s.detail}")
        return "\n".join(lines)


def _ms_to_iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds")


class PipelineTracer:
    def __init__(self, localstack: LocalStack, outputs: dict[str, str]):
        self.outputs = outputs
        self.sqs = localstack.client("sqs")
        self.logs = localstack.client("logs")
        self.s3 = localstack.client("s3")
        self.table = localstack.resource("dynamodb").Table(outputs["EventsTableName"])
        self.sns_log = SnsPublishLog(localstack)

    def trace(self, needle: str) -> Trace:
        trace = Trace(needle)
        item = self._item(needle)
        ids = {needle} | ({item["event_id"]} if item else set())
        trace.stages.append(self._upload(needle, item))
        trace.stages.append(self._published("SNS publish", "TopicArn",
                                            self._publish_terms(needle, item)))
        trace.stages.append(self._queue("ingest queue", "IngestQueueUrl"))
        trace.stages.append(self._dead_letters("ingest DLQ", "IngestDlqUrl", ids))
        trace.stages.append(self._logs("processor", "ProcessorFunctionName", ids))
        trace.stages.append(self._recorded(item))
        trace.stages.append(self._queue("confirmation queue", "ConfirmationQueueUrl"))
        trace.stages.append(self._dead_letters("confirmation DLQ", "ConfirmationDlqUrl", ids))
        trace.stages.append(self._logs("confirmation sender", "ConfirmationSenderFunctionName",
                                       ids))
        trace.stages.append(self._confirmed(item))
        trace.stages.append(self._published("notification published", "NotificationTopicArn",
                                            [item["event_id"]] if item else []))
        return trace

    # --- stages ---
    def _item(self, needle: str) -> dict | None:
        item = self.table.get_item(Key={"event_id": needle}, ConsistentRead=True).get("Item")
        if item:
            return item
        from boto3.dynamodb.conditions import Attr

        found = self.table.scan(FilterExpression=Attr("object_key").eq(needle)
                                | Attr("payload").contains(needle)).get("Items", [])
        return found[0] if found else None

    def _upload(self, needle: str, item: dict | None) -> Stage:
        key = (item or {}).get("object_key") or (needle if "/" in needle or "." in needle else None)
        if not key:
            return Stage("way in", None, f"source {(item or {}).get('source', '?')}: "
                                         "not an upload, nothing to look at in S3")
        try:
            head = self.s3.head_object(Bucket=self.outputs["BucketName"], Key=key)
            return Stage("upload in S3", True, f"s3://{self.outputs['BucketName']}/{key} "
                         f"({head['ContentLength']} bytes)", head["LastModified"].isoformat())
        except Exception:
            return Stage("upload in S3", False, f"no object {key!r} in the uploads bucket")

    def _queue(self, name: str, output: str) -> Stage:
        depth = queue_depth(self.sqs, self.outputs[output])
        return Stage(name, None, f"{depth['visible']} waiting, {depth['in_flight']} in flight "
                                 "(all events; not read, so as not to use up receives)")

    def _dead_letters(self, name: str, output: str, ids: set[str]) -> Stage:
        found = [(m["MessageId"], m["Attributes"])
                 for m in peek_messages(self.sqs, self.outputs[output])
                 if any(i in m["Body"] for i in ids)]
        if not found:
            return Stage(name, False, "not there")
        message_id, attrs = found[0]
        return Stage(name, True, f"message {message_id} is dead-lettered (received "
                                 f"{attrs.get('ApproximateReceiveCount')} times)",
                     _ms_to_iso(int(attrs["SentTimestamp"])))

    def _logs(self, name: str, output: str, ids: set[str]) -> Stage:
        group = f"/aws/lambda/{self.outputs[output]}"
        lines = []
        for needle in ids:
            try:
                events = self.logs.filter_log_events(logGroupName=group,
                                                     filterPattern=json.dumps(needle))["events"]
            except self.logs.exceptions.ResourceNotFoundException:
                return Stage(f"{name} Lambda", False, f"no log group {group}: never invoked")
            # LocalStack's filter patterns match loosely (terms, not the exact phrase): re-check
            lines += [e for e in events if needle in e["message"]]
        if not lines:
            return Stage(f"{name} Lambda", False, "no log line mentions this event")
        lines.sort(key=lambda e: e["timestamp"])
        summary = []
        for e in lines[-3:]:
            try:
                doc = json.loads(e["message"])
                summary.append(f"{doc.get('level', '')} {doc.get('message', '')}"
                               + (f" ({doc['reason']})" if doc.get("reason") else ""))
            except ValueError:
                summary.append(e["message"].strip()[:120])
        errors = sum('"ERROR"' in e["message"] or "Traceback" in e["message"] for e in lines)
        return Stage(f"{name} Lambda", True, f"{len(lines)} log line(s), {errors} error(s); last: "
                     + " | ".join(summary), _ms_to_iso(lines[-1]["timestamp"]))

    @staticmethod
    def _recorded(item: dict | None) -> Stage:
        if not item:
            return Stage("events table", False, "no item")
        return Stage("events table", True, f"item {item['event_id']} status {item['status']}",
                     item.get("recorded_at") or item.get("received_at"))

    @staticmethod
    def _confirmed(item: dict | None) -> Stage:
        if not item or item.get("status") != "CONFIRMED":
            return Stage("confirmed", False, f"status {(item or {}).get('status', 'unknown')}")
        return Stage("confirmed", True, "status CONFIRMED", item.get("confirmed_at"))

    @staticmethod
    def _publish_terms(needle: str, item: dict | None) -> list[str]:
        """Strings the message published for this event holds in its body.

        An API event's body holds its id; a bus event's holds the EventBridge event id (or the
        caller's ``event_id``) without the ``bus-`` prefix; an S3 notification holds the object
        key, URL-encoded as S3 sends it (an ``s3-…`` id is a hash: only its key can be found).
        """
        terms = [needle]
        if item:
            terms.append(item["event_id"])
            if item.get("object_key"):
                terms.append(item["object_key"])
        for term in list(terms):  # LocalStack's S3 quotes keys ("a b" -> "a%20b"), AWS's quote_plus
            terms += [urllib.parse.quote(term), urllib.parse.quote_plus(term, safe="/")]
        for event_id in {needle, (item or {}).get("event_id", "")}:
            if event_id.startswith("bus-"):  # as a whole JSON string: a short id is no substring
                terms.append(json.dumps(event_id[len("bus-"):]))
        return list(dict.fromkeys(t for t in terms if t))

    def _published(self, name: str, output: str, terms: list[str]) -> Stage:
        topic = self.outputs.get(output)
        if not topic:
            return Stage(name, None, f"no {output} among the stack's outputs")
        topic_name = topic.rsplit(":", 1)[-1]
        if not terms:
            return Stage(name, False, f"nothing to look for on {topic_name} (no event item)")
        try:
            page = self.sns_log.query(topic_arn=topic, contains=terms)
        except SnsPublishLogUnavailable as exc:
            return Stage(name, None, f"cannot tell: {exc}")
        if not page.records:
            if page.dropped:
                return Stage(name, None, f"not among the last {page.held} publishes to any topic "
                             f"({page.dropped} older ones were dropped; raise "
                             "LSH_SNS_PUBLISH_LOG_SIZE to keep more)")
            return Stage(name, False, f"no message published to {topic_name} mentions it "
                                      f"({page.total} publishes to any topic recorded)")
        first: PublishRecord = page.records[0]
        via = f"via {first.origin_service}" if first.origin_service else f"{first.api} call"
        subs = len(first.subscriptions)
        detail = (f"message {first.message_id} to {topic_name} ({via}, {first.body_length} "
                  f"chars, delivered to {subs} subscription{'s' if subs != 1 else ''})")
        if len(page.records) > 1:
            detail += f"; {len(page.records)} publishes match, last at {page.records[-1].at}"
        return Stage(name, True, detail, first.at)
