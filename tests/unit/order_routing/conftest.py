"""Fixtures for the unit tests of the order-routing functions: moto's in-memory AWS with the
stack's tables, topic and queues, the functions' environment, and the handlers imported fresh."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class RoutingAws:
    dynamodb: Any
    sqs: Any
    orders_table: str
    inventory_table: str
    inventory_queue_url: str
    order_queue_url: str
    notification_tap_url: str  # a queue subscribed (raw) to the notification topic

    def item(self, table: str, key: str, value: str) -> dict | None:
        from boto3.dynamodb.types import TypeDeserializer

        found = self.dynamodb.get_item(TableName=table, Key={key: {"S": value}}).get("Item")
        return None if found is None else {k: TypeDeserializer().deserialize(v)
                                           for k, v in found.items()}

    def order(self, order_id: str) -> dict | None:
        return self.item(self.orders_table, "order_id", order_id)

    def stock(self, item_id: str) -> int | None:
        found = self.item(self.inventory_table, "item_id", item_id)
        return None if found is None else int(found["quantity"])

    def set_stock(self, item_id: str, quantity: int) -> None:
        self.dynamodb.put_item(TableName=self.inventory_table,
                               Item={"item_id": {"S": item_id}, "quantity": {"N": str(quantity)}})

    def drain(self, queue_url: str) -> list[dict]:
        """The JSON bodies on ``queue_url`` (received and deleted)."""
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not got:
                return bodies
            for message in got:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def routing_aws(monkeypatch) -> Iterator[RoutingAws]:
    import boto3
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
                 "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                        "AWS_LAMBDA_FUNCTION_NAME": "unit-test-function",
                        "POWERTOOLS_DEV": "false"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        dynamodb, sqs, sns = (boto3.client(s, region_name=REGION)
                              for s in ("dynamodb", "sqs", "sns"))
        for table, key in (("orders", "order_id"), ("inventory", "item_id")):
            dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": key,
                                                         "AttributeType": "S"}])
        topic = sns.create_topic(Name="notifications")["TopicArn"]
        tap = sqs.create_queue(QueueName="notifications-tap")["QueueUrl"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Attributes={"RawMessageDelivery": "true"},
                      Endpoint=sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=[
                          "QueueArn"])["Attributes"]["QueueArn"])
        aws = RoutingAws(dynamodb, sqs, "orders", "inventory",
                         sqs.create_queue(QueueName="inventory")["QueueUrl"],
                         sqs.create_queue(QueueName="order")["QueueUrl"], tap)
        for name, value in {"ORDERS_TABLE": "orders", "INVENTORY_TABLE": "inventory",
                            "NOTIFICATION_TOPIC_ARN": topic,
                            "INVENTORY_QUEUE_URL": aws.inventory_queue_url,
                            "ORDER_QUEUE_URL": aws.order_queue_url}.items():
            monkeypatch.setenv(name, value)
        _forget_modules()
        yield aws
        _forget_modules()


def _forget_modules() -> None:
    """Handlers and their cached clients are made at import: import them fresh in each test."""
    for name in [m for m in sys.modules if m.startswith("functions.order_routing")]:
        del sys.modules[name]


@pytest.fixture
def load_function(routing_aws) -> Callable[[str], Any]:
    return lambda module: importlib.import_module(f"functions.order_routing.{module}")


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="unit-test-function", function_version="$LATEST", memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:unit-test-function",
        aws_request_id=str(uuid.uuid4()), log_group_name="/aws/lambda/unit-test-function",
        log_stream_name="stream", get_remaining_time_in_millis=lambda: 10_000)


def bus_event(source: str, detail_type: str, detail: Any) -> dict:
    """An event as EventBridge hands it to a rule's Lambda target."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type,
            "source": source, "account": ACCOUNT, "time": "2024-01-15T10:00:00Z",
            "region": REGION, "resources": [], "detail": detail}


def sqs_batch(*bodies: str | dict) -> dict:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "handle",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue", "awsRegion": REGION,
    } for body in bodies]}
