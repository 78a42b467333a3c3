"""Fixtures for the unit tests of the upload pipeline's functions (``test_functions_*.py``).

``pipeline_aws`` runs each test inside moto's in-memory AWS with the stack's tables, topics and
queues created as the CDK stack defines them, the functions' environment variables set, and the
``functions`` modules imported fresh (their boto3 clients and Powertools loggers are made at
import). Every import here is lazy, so the other unit tests never load moto or Powertools.
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class PipelineAws:
    """The fake AWS of one test: resource names, clients, and what was sent where."""

    events_table: str
    idempotency_table: str
    topic_arn: str
    notification_topic_arn: str
    confirmation_queue_url: str
    topic_tap_url: str  # a queue subscribed (raw) to the pipeline topic
    notification_tap_url: str  # a queue subscribed (raw) to the notifications topic
    dynamodb: Any
    sqs: Any
    put_item_calls: list[dict] = field(default_factory=list)
    log_buffer: io.StringIO = field(default_factory=io.StringIO)

    def item(self, event_id: str) -> dict | None:
        from boto3.dynamodb.types import TypeDeserializer

        found = self.dynamodb.get_item(TableName=self.events_table,
                                       Key={"event_id": {"S": event_id}}).get("Item")
        if found is None:
            return None
        deserialize = TypeDeserializer().deserialize
        return {k: deserialize(v) for k, v in found.items()}

    def items(self) -> list[dict]:
        scanned = self.dynamodb.scan(TableName=self.events_table)["Items"]
        return [self.item(i["event_id"]["S"]) for i in scanned]

    def drain(self, queue_url: str) -> list[str]:
        """Bodies of every message on ``queue_url`` (received and deleted)."""
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return bodies
            for message in got:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=queue_url,
                                        ReceiptHandle=message["ReceiptHandle"])

    def forget_idempotency(self) -> None:
        """Empty the idempotency table, as if its records had expired."""
        for item in self.dynamodb.scan(TableName=self.idempotency_table)["Items"]:
            self.dynamodb.delete_item(TableName=self.idempotency_table, Key={"id": item["id"]})


@pytest.fixture
def pipeline_aws(monkeypatch) -> Iterator[PipelineAws]:
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "unit-test-function")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")

    with mock_aws():
        dynamodb, sqs, sns = (_client(name) for name in ("dynamodb", "sqs", "sns"))
        dynamodb.create_table(
            TableName="events", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("event_id", "status", "received_at")],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_status", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                              {"AttributeName": "received_at", "KeyType": "RANGE"}]}])
        dynamodb.create_table(
            TableName="idempotency", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        topic_arn = sns.create_topic(Name="pipeline")["TopicArn"]
        notification_topic_arn = sns.create_topic(Name="notifications")["TopicArn"]
        confirmation_queue_url = sqs.create_queue(QueueName="confirmation")["QueueUrl"]

        def tap(topic: str, name: str) -> str:
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                          Attributes={"RawMessageDelivery": "true"})
            return url

        aws = PipelineAws(
            events_table="events", idempotency_table="idempotency", topic_arn=topic_arn,
            notification_topic_arn=notification_topic_arn,
            confirmation_queue_url=confirmation_queue_url,
            topic_tap_url=tap(topic_arn, "pipeline-tap"),
            notification_tap_url=tap(notification_topic_arn, "notifications-tap"),
            dynamodb=dynamodb, sqs=sqs)
        for name, value in {"EVENTS_TABLE": aws.events_table,
                            "IDEMPOTENCY_TABLE": aws.idempotency_table,
                            "TOPIC_ARN": topic_arn,
                            "NOTIFICATION_TOPIC_ARN": notification_topic_arn,
                            "CONFIRMATION_QUEUE_URL": confirmation_queue_url,
                            "EVENT_TTL_DAYS": "30"}.items():
            monkeypatch.setenv(name, value)
        _forget_functions_modules()
        yield aws
        _forget_functions_modules()


@functools.lru_cache(maxsize=None)
def _client(service: str):
    """boto3 clients cost ~50 ms each to make: made once, they work inside each test's mock."""
    import boto3

    return boto3.client(service, region_name=REGION)


# the PipelineAws of the running test, for hooks registered once on long-lived clients
_current: dict[str, PipelineAws] = {}


def _forget_functions_modules() -> None:
    """Drop the imported handlers (they are imported again, fresh, by the next test) and their
    Powertools loggers. ``functions.upload_pipeline.common`` stays: its boto3 clients are reused."""
    import logging

    for name in [m for m in sys.modules if m.startswith("functions.") and
                 not m.startswith("functions.upload_pipeline.common")]:
        del sys.modules[name]
    loggers = logging.Logger.manager.loggerDict
    for name in [n for n, lg in loggers.items() if getattr(lg, "init", False)]:
        del loggers[name]


class _Tee(io.TextIOBase):
    """Writes to a buffer and to whatever ``sys.stdout`` is at the time (pytest's capture)."""

    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer_ = buffer

    def write(self, text: str) -> int:
        self.buffer_.write(text)
        return sys.stdout.write(text)


@pytest.fixture
def load_function(pipeline_aws: PipelineAws) -> Callable[[str], Any]:
    """Import ``functions.upload_pipeline.<module>`` inside the test's fake AWS. PutItem calls on the events
    table are recorded in ``pipeline_aws.put_item_calls``; what Powertools' loggers print goes
    to ``pipeline_aws.log_buffer`` too (read it with the ``logs`` fixture)."""
    import importlib
    import logging

    def load(module: str):
        loaded = importlib.import_module(f"functions.upload_pipeline.{module}")
        from functions.upload_pipeline.common import aws

        for lg in list(logging.Logger.manager.loggerDict.values()):
            if getattr(lg, "init", False):
                for handler in lg.handlers:
                    if isinstance(handler, logging.StreamHandler):
                        handler.setStream(_Tee(pipeline_aws.log_buffer))

        def record_put(params, **_):
            current = _current.get("aws")
            if current and params.get("TableName") == current.events_table:
                current.put_item_calls.append(params)

        _current["aws"] = pipeline_aws
        events_client = aws.events_table().meta.client
        if not getattr(events_client, "_recording_puts", False):
            events_client.meta.events.register("provide-client-params.dynamodb.PutItem",
                                               record_put)
            events_client._recording_puts = True
        return loaded

    return load


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="unit-test-function", function_version="$LATEST", memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:unit-test-function",
        aws_request_id=str(uuid.uuid4()), log_group_name="/aws/lambda/unit-test-function",
        log_stream_name="stream", get_remaining_time_in_millis=lambda: 10_000)


def sqs_record(body: str | dict, message_id: str | None = None, receive_count: int = 1) -> dict:
    """One record of an SQS event as Lambda's event source mapping delivers it."""
    if not isinstance(body, str):
        body = json.dumps(body)
    return {
        "messageId": message_id or str(uuid.uuid4()), "receiptHandle": "handle", "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count),
                       "SentTimestamp": "1700000000000", "SenderId": "AIDAEXAMPLE",
                       "ApproximateFirstReceiveTimestamp": "1700000000001"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:ingest", "awsRegion": REGION,
    }


@pytest.fixture
def sqs_event() -> Callable[..., dict]:
    """``sqs_event(body, ...)`` or ``sqs_event(record, record, ...)`` → an SQS Lambda event."""

    def make(*records: str | dict) -> dict:
        return {"Records": [r if isinstance(r, dict) and "messageId" in r else sqs_record(r)
                            for r in records]}

    make.record = sqs_record
    return make


def log_lines(text: str) -> list[dict]:
    """The JSON log lines of Powertools' Logger in captured output."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
    return lines


@pytest.fixture
def logs(pipeline_aws: PipelineAws) -> Callable[[], list[dict]]:
    """``logs()``: the structured log lines the functions printed so far in this test."""
    return lambda: log_lines(pipeline_aws.log_buffer.getvalue())
