"""The ledger's handlers against moto's in-memory AWS (tables and bus as the stack makes them)."""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch):
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "EVENT_STORE_TABLE": "events",
                        "READ_MODEL_TABLE": "views", "EVENT_BUS_NAME": "ledger",
                        "EVENT_SOURCE": "ledger.accounts",
                        "POWERTOOLS_SERVICE_NAME": "test"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="events", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "AggregateId", "KeyType": "HASH"},
                                    {"AttributeName": "Version", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "AggregateId",
                                                "AttributeType": "S"},
                                               {"AttributeName": "Version",
                                                "AttributeType": "N"}])
        ddb.create_table(TableName="views", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "AggregateId", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "AggregateId",
                                                "AttributeType": "S"}])
        boto3.client("events", region_name=REGION).create_event_bus(Name="ledger")
        import functions.ledger.store as store

        store._dynamodb.cache_clear()
        modules = {m: importlib.reload(importlib.import_module(f"functions.ledger.{m}"))
                   for m in ("command_handler", "projection_handler", "query_handler")}
        modules["command_handler"]._events_client.cache_clear()
        yield SimpleNamespace(**modules, store=store,
                              table=boto3.resource("dynamodb", region_name=REGION).Table)
        store._dynamodb.cache_clear()


CONTEXT = SimpleNamespace(function_name="f", memory_limit_in_mb=128, aws_request_id="r",
                          invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f")


def send(aws, kind, acc="account-123", expected=None, **data):
    payload = {"aggregateId": acc, "eventType": kind, "eventData": data}
    if expected is not None:
        payload["expectedVersion"] = expected
    return aws.command_handler.handler(payload, CONTEXT)


def stream_batch(aws, acc="account-123"):
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer().serialize
    items = aws.table("events").query(KeyConditionExpression="AggregateId = :a",
                                      ExpressionAttributeValues={":a": acc})["Items"]
    return {"Records": [{"eventName": "INSERT",
                         "dynamodb": {"NewImage": {k: ser(v) for k, v in i.items()}}}
                        for i in items]}


def test_commands_append_versions_and_rejections_write_nothing(aws):
    assert send(aws, "AccountCreated", customerId="c", accountType="checking")["version"] == 1
    answer = send(aws, "TransactionProcessed", transactionId="t", amount=100.5, type="deposit")
    assert (answer["statusCode"], answer["version"]) == (200, 2)
    assert send(aws, "TransactionProcessed", transactionId="t", amount=101,
                type="withdrawal")["statusCode"] == 400
    assert send(aws, "TransactionProcessed", expected=1, transactionId="t", amount=1,
                type="deposit")["statusCode"] == 409
    assert len(aws.store.load_events("account-123")) == 2


def test_append_of_a_taken_version_is_a_conflict(aws):
    from functions.ledger.account import ConcurrencyConflict, StoredEvent

    event = StoredEvent("a", 1, "e", "AccountCreated", {}, "t")
    aws.store.append(event)
    with pytest.raises(ConcurrencyConflict, match="version 1 of account a was appended"):
        aws.store.append(StoredEvent("a", 1, "e2", "AccountCreated", {}, "t"))


def test_projection_is_idempotent_and_fills_gaps_from_the_event_store(aws):
    send(aws, "AccountCreated", customerId="c", accountType="checking")
    send(aws, "TransactionProcessed", transactionId="t1", amount=10, type="deposit")
    send(aws, "TransactionProcessed", transactionId="t2", amount="2.5", type="withdrawal")
    batch = stream_batch(aws)
    last_only = {"Records": batch["Records"][-1:]}
    assert aws.projection_handler.handler(last_only, CONTEXT) == {"projected": {"account-123": 3}}
    for _ in range(2):  # redelivery
        aws.projection_handler.handler(batch, CONTEXT)
    view = aws.table("views").get_item(Key={"AggregateId": "account-123"})["Item"]
    assert (view["version"], view["balance"], view["transactionCount"]) == (3, Decimal("7.5"), 2)


def test_projection_of_a_replayed_bus_event(aws):
    send(aws, "AccountCreated", customerId="c", accountType="checking")
    detail = aws.store.load_events("account-123")[0].to_detail()
    replayed = {"source": "ledger.accounts", "detail-type": "AccountCreated",
                "replay-name": "r1", "detail": json.loads(json.dumps(detail))}
    assert aws.projection_handler.handler(replayed, CONTEXT) == {"projected": {"account-123": 1}}
    with pytest.raises(ValueError, match="not a DynamoDB stream batch nor an EventBridge event"):
        aws.projection_handler.handler({"hello": 1}, CONTEXT)


def test_queries_agree_and_unknown_queries_are_named(aws):
    send(aws, "AccountCreated", customerId="c", accountType="checking")
    send(aws, "TransactionProcessed", transactionId="t1", amount=100.50, type="deposit")
    aws.projection_handler.handler(stream_batch(aws), CONTEXT)
    q = aws.query_handler.handler
    rebuilt = q({"queryType": "reconstructState", "aggregateId": "account-123"}, CONTEXT)
    assert rebuilt == q({"queryType": "getReadModel", "aggregateId": "account-123"}, CONTEXT)
    assert (rebuilt["balance"], rebuilt["version"], rebuilt["transactionCount"]) == (100.5, 2, 1)
    assert q({"queryType": "x", "aggregateId": "a"}, CONTEXT)["errorMessage"].startswith(
        "unknown queryType 'x'")
    assert q({"queryType": "getReadModel", "aggregateId": "nope"}, CONTEXT)["statusCode"] == 404
