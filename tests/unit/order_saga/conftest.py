"""The order saga's handlers inside moto's in-memory AWS: the orders table and the bus as the
stack defines them, the functions' environment set, and the ``functions.order_saga`` modules
imported fresh (their clients are cached). What the handlers put on the bus is read from their
``PutEvents`` calls (moto's rule targets need ``jsonpath_ng``, not a dependency here)."""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

REGION = "us-east-1"


@dataclass
class SagaAws:
    table: str
    bus: str
    dynamodb: Any
    put_events: list[dict] = field(default_factory=list)

    def events(self) -> list[dict]:
        """Every event put on the saga's bus so far (detail parsed), in order."""
        return [{"detail-type": e["DetailType"], **json.loads(e["Detail"])}
                for e in self.put_events if e["EventBusName"] == self.bus]

    def record(self, params: dict, **_: Any) -> None:
        self.put_events.extend(params.get("Entries", []))

    def item(self, order_id: str, customer_id: str) -> dict | None:
        from boto3.dynamodb.types import TypeDeserializer

        found = self.dynamodb.get_item(TableName=self.table, Key={
            "orderId": {"S": order_id}, "customerId": {"S": customer_id}}).get("Item")
        return None if found is None else {k: TypeDeserializer().deserialize(v)
                                           for k, v in found.items()}


@pytest.fixture
def saga_aws(monkeypatch) -> Iterator[SagaAws]:
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "ORDERS_TABLE": "orders",
                        "EVENT_BUS_NAME": "saga-bus", "POWERTOOLS_SERVICE_NAME": "test",
                        "PAYMENT_SUCCESS_RATE": "1", "INVENTORY_AVAILABILITY_RATE": "1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"},
                                    {"AttributeName": "customerId", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"},
                                               {"AttributeName": "customerId",
                                                "AttributeType": "S"}])
        boto3.client("events", region_name=REGION).create_event_bus(Name="saga-bus")
        for module in [m for m in sys.modules if m.startswith("functions.order_saga")]:
            del sys.modules[module]
        aws = SagaAws("orders", "saga-bus", ddb)
        common = importlib.import_module("functions.order_saga.common")
        common.client("events").meta.events.register("provide-client-params.events.PutEvents",
                                                     aws.record)
        yield aws


@pytest.fixture
def handlers(saga_aws) -> SimpleNamespace:
    """The four handler modules, imported inside moto."""
    return SimpleNamespace(**{name: importlib.import_module(f"functions.order_saga.{name}")
                              for name in ("order_service", "payment_service",
                                           "inventory_service", "notification_service")})


@pytest.fixture
def context() -> Any:
    return SimpleNamespace(function_name="test", memory_limit_in_mb=256, aws_request_id="req-1",
                           invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:t",
                           function_version="$LATEST",
                           get_remaining_time_in_millis=lambda: 30000)
