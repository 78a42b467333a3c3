"""Generic stage probes for :class:`harness.trace.Tracer`: each looks at one resource and says
whether the event (any of ``ctx.needles``) was seen there, without disturbing anything."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from harness.localstack.base import LocalStack
from harness.probes import peek_messages, queue_depth
from harness.sns_log import PublishRecord, SnsPublishLog, SnsPublishLogUnavailable
from harness.trace import Stage, TraceContext, ms_to_iso

#: at most this many items of a table are searched
SEARCH_LIMIT = 1000


def _mentions(value: Any, needles: set[str]) -> bool:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return any(n in text for n in needles)


@dataclass
class TopicPublished:
    """A publish to an SNS topic whose body mentions the event (from the SNS publish log)."""

    name: str
    topic_arn: str
    #: extra strings to look for (e.g. URL-encoded keys), from the context
    terms: Callable[[TraceContext], list[str]] | None = None

    def probe(self, ctx: TraceContext) -> Stage:
        topic_name = self.topic_arn.rsplit(":", 1)[-1]
        terms = sorted(ctx.needles | set(self.terms(ctx) if self.terms else []))
        if not terms:
            return Stage(self.name, False, f"nothing to look for on {topic_name}")
        if "sns_log" not in ctx.facts:
            ctx.facts["sns_log"] = SnsPublishLog(ctx.localstack)
        log = ctx.facts["sns_log"]
        try:
            page = log.query(topic_arn=self.topic_arn, contains=terms)
        except SnsPublishLogUnavailable as exc:
            return Stage(self.name, None, f"cannot tell: {exc}")
        if not page.records:
            if page.dropped:
                return Stage(self.name, None, f"not among the last {page.held} publishes to any "
                             f"topic ({page.dropped} older ones were dropped; raise "
                             "LSH_SNS_PUBLISH_LOG_SIZE to keep more)")
            return Stage(self.name, False, f"no message published to {topic_name} mentions it "
                                           f"({page.total} publishes to any topic recorded)")
        first: PublishRecord = page.records[0]
        via = f"via {first.origin_service}" if first.origin_service else f"{first.api} call"
        subs = len(first.subscriptions)
        # SNS hands a message to its subscriptions; whether each delivery arrived is for the
        # stages that follow (a queue, a function's logs) to show: SQS refuses some bodies
        detail = (f"message {first.message_id} to {topic_name} ({via}, {first.body_length} chars;"
                  f" handed to {subs} subscription{'s' if subs != 1 else ''}, deliveries are "
                  "shown by the stages after)")
        if len(page.records) > 1:
            detail += f"; {len(page.records)} publishes match, last at {page.records[-1].at}"
        return Stage(self.name, True, detail, first.at)


@dataclass
class QueueDepth:
    """How many messages wait in a queue (all events: not read, so no receive is used up)."""

    name: str
    queue_url: str

    def probe(self, ctx: TraceContext) -> Stage:
        depth = queue_depth(ctx.client("sqs"), self.queue_url)
        return Stage(self.name, None, f"{depth['visible']} waiting, {depth['in_flight']} in "
                                      "flight (all events; not read, so as not to use up receives)")


@dataclass
class DeadLetters:
    """A dead-letter queue holding a message that mentions the event (peeked, not taken)."""

    name: str
    queue_url: str

    def probe(self, ctx: TraceContext) -> Stage:
        found = [m for m in peek_messages(ctx.client("sqs"), self.queue_url)
                 if _mentions(m["Body"], ctx.needles)]
        if not found:
            return Stage(self.name, False, "not there")
        attrs = found[0]["Attributes"]
        return Stage(self.name, True, f"message {found[0]['MessageId']} is dead-lettered "
                                      f"(received {attrs.get('ApproximateReceiveCount')} times)",
                     ms_to_iso(int(attrs["SentTimestamp"])))


@dataclass
class FunctionLogs:
    """Log lines of a Lambda function that mention the event (errors counted, last three shown)."""

    name: str
    function_name: str

    def probe(self, ctx: TraceContext) -> Stage:
        logs = ctx.client("logs")
        group = f"/aws/lambda/{self.function_name}"
        lines = []
        for needle in ctx.needles:
            try:
                events = logs.filter_log_events(logGroupName=group,
                                                filterPattern=json.dumps(needle))["events"]
            except logs.exceptions.ResourceNotFoundException:
                return Stage(self.name, False, f"no log group {group}: never invoked")
            # LocalStack's filter patterns match loosely (terms, not the exact phrase): re-check
            lines += [e for e in events if needle in e["message"]]
        if not lines:
            return Stage(self.name, False, "no log line mentions this event")
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
        return Stage(self.name, True, f"{len(lines)} log line(s), {errors} error(s); last: "
                     + " | ".join(summary), ms_to_iso(lines[-1]["timestamp"]))


@dataclass
class TableItem:
    """An item of a DynamoDB table whose key is the needle, or that mentions it anywhere (a
    scan of at most :data:`SEARCH_LIMIT` items). The item found is left in ``ctx.facts``."""

    name: str
    table_name: str
    describe: Callable[[dict], str] | None = None

    def probe(self, ctx: TraceContext) -> Stage:
        table = ctx.localstack.resource("dynamodb").Table(self.table_name)
        item = self._by_key(table, ctx.needle) or self._by_scan(table, ctx.needles)
        ctx.facts[f"item:{self.table_name}"] = item
        if not item:
            return Stage(self.name, False, "no item mentions it")
        detail = self.describe(item) if self.describe else json.dumps(item, default=str)[:160]
        return Stage(self.name, True, detail)

    @staticmethod
    def _by_key(table, needle: str) -> dict | None:
        keys = table.key_schema
        if len(keys) != 1:
            return None
        try:
            return table.get_item(Key={keys[0]["AttributeName"]: needle},
                                  ConsistentRead=True).get("Item")
        except Exception:  # noqa: BLE001 - a numeric key, say: fall back to the scan
            return None

    @staticmethod
    def _by_scan(table, needles: set[str]) -> dict | None:
        kwargs: dict[str, Any] = {}
        seen = 0
        while seen < SEARCH_LIMIT:
            page = table.scan(**kwargs)
            for item in page.get("Items", []):
                if _mentions(item, needles):
                    return item
            seen += len(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return None
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return None


def stages_for_resources(localstack: LocalStack, resources: list[dict]) -> list:
    """Stages for a deployment's resources (``describe_stack_resources`` rows): buses (put, rule
    matched, target invoked or failed, target DLQ), topics, queues (a queue that is another's
    dead-letter target as a DLQ), functions, tables, state machines (started, state reached)."""
    from harness.trace import eventbridge, stepfunctions_stages

    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["ResourceType"], []).append(r)
    stages: list = eventbridge.stages_for_resources(resources)
    for r in by_type.get("AWS::SNS::Topic", []):
        stages.append(TopicPublished(f"topic {r['LogicalResourceId']}", r["PhysicalResourceId"]))
    queues = by_type.get("AWS::SQS::Queue", [])
    dlq_arns = _dead_letter_targets(localstack, queues)
    sqs = localstack.client("sqs")
    for r in queues:
        url = r["PhysicalResourceId"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        if arn in dlq_arns:
            stages.append(DeadLetters(f"DLQ {r['LogicalResourceId']}", url))
        else:
            stages.append(QueueDepth(f"queue {r['LogicalResourceId']}", url))
    for r in by_type.get("AWS::Lambda::Function", []):
        stages.append(FunctionLogs(f"function {r['LogicalResourceId']}", r["PhysicalResourceId"]))
    for r in by_type.get("AWS::DynamoDB::Table", []) + by_type.get("AWS::DynamoDB::GlobalTable", []):
        stages.append(TableItem(f"table {r['LogicalResourceId']}", r["PhysicalResourceId"]))
    return stages + stepfunctions_stages.stages_for_resources(resources)


def _dead_letter_targets(localstack: LocalStack, queues: list[dict]) -> set[str]:
    sqs = localstack.client("sqs")
    targets = set()
    for r in queues:
        attrs = sqs.get_queue_attributes(QueueUrl=r["PhysicalResourceId"],
                                         AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        if "RedrivePolicy" in attrs:
            targets.add(json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"])
    return targets
