"""Fixtures for the order-events handlers' unit tests: moto's in-memory AWS with the app's bus,
table and GSI, the functions' environment, and a record of every entry the publisher's client put
(with the event id moto gave it; moto's own rule targets need jsonpath-ng, not installed).
Imports are lazy, so the template tests never load moto or Powertools."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class OrderAws:
    bus: str
    table: str
    dynamodb: Any
    put: list[dict] = field(default_factory=list)

    def put_events(self) -> list[dict]:
        """What was put, as events: ``id``, ``bus``, ``source``, ``detail-type``, ``detail``."""
        return list(self.put)

    def record(self, params: dict, parsed: dict) -> None:
        for entry, result in zip(params["Entries"], parsed.get("Entries", [])):
            if "EventId" in result:
                self.put.append({"id": result["EventId"], "bus": entry["EventBusName"],
                                 "source": entry["Source"], "detail-type": entry["DetailType"],
                                 "detail": json.loads(entry["Detail"])})

    def item(self, order_id: str) -> dict | None:
        return self.dynamodb.Table(self.table).get_item(Key={"order_id": order_id}).get("Item")


@pytest.fixture
def order_aws(monkeypatch) -> Iterator[OrderAws]:
    import boto3
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                        "AWS_LAMBDA_FUNCTION_NAME": "unit-test-function",
                        "EVENT_BUS_NAME": "orders", "EVENT_SOURCE": "custom.myapp",
                        "EVENTS_TABLE": "order-events"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        boto3.client("events").create_event_bus(Name="orders")
        dynamodb.create_table(
            TableName="order-events", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("order_id", "event_type", "timestamp")],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_event_type", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "event_type", "KeyType": "HASH"},
                              {"AttributeName": "timestamp", "KeyType": "RANGE"}]}])
        from functions.order_events import processor, publisher

        publisher._events.cache_clear()  # clients made inside this test's mock
        processor._table.cache_clear()
        aws = OrderAws("orders", "order-events", dynamodb)
        calls: dict[str, dict] = {}
        client = publisher._events()
        client.meta.events.register("provide-client-params.events.PutEvents",
                                    lambda params, **_: calls.update(params=params))
        client.meta.events.register("after-call.events.PutEvents",
                                    lambda parsed, **_: aws.record(calls["params"], parsed))
        yield aws
        publisher._events.cache_clear()
        processor._table.cache_clear()


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="unit-test-function", function_version="$LATEST", memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:unit-test-function",
        aws_request_id=str(uuid.uuid4()), log_group_name="/aws/lambda/unit-test-function",
        log_stream_name="stream", get_remaining_time_in_millis=lambda: 10_000)
