"""``functions.upload_pipeline.confirmation_sender``: the item becomes CONFIRMED and one notification goes out."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def sender(load_function):
    return load_function("confirmation_sender")


def put_received(aws, event_id: str = "evt-1", **extra) -> None:
    item = {"event_id": {"S": event_id}, "status": {"S": "RECEIVED"}, "source": {"S": "s3"},
            "type": {"S": "ObjectCreated:Put"}, "object_key": {"S": "uploads/a.csv"},
            "received_at": {"S": "2026-11-23T07:00:00.000Z"}, "ttl": {"N": "1999999999"}}
    item.update(extra)
    aws.dynamodb.put_item(TableName=aws.events_table, Item=item)


def confirmation(event_id: str = "evt-1") -> dict:
    return {"event_id": event_id, "source": "s3", "type": "ObjectCreated:Put"}


def notifications(aws) -> list[dict]:
    return [json.loads(m) for m in aws.drain(aws.notification_tap_url)]


def test_the_item_is_confirmed_and_a_notification_published(sender, pipeline_aws,
                                                            lambda_context, sqs_event):
    put_received(pipeline_aws)
    assert sender.handler(sqs_event(confirmation()), lambda_context) == {"batchItemFailures": []}
    item = pipeline_aws.item("evt-1")
    assert item["status"] == "CONFIRMED"
    assert item["confirmed_at"].endswith("Z")
    assert item["object_key"] == "uploads/a.csv"  # the rest of the item is kept
    assert notifications(pipeline_aws) == [{
        "event_id": "evt-1", "status": "CONFIRMED", "source": "s3", "type": "ObjectCreated:Put",
        "object_key": "uploads/a.csv", "received_at": "2026-11-23T07:00:00.000Z",
        "confirmed_at": item["confirmed_at"]}]


def test_a_duplicate_confirmation_publishes_once(sender, pipeline_aws, lambda_context,
                                                 sqs_event):
    put_received(pipeline_aws)
    sender.handler(sqs_event(confirmation(), confirmation()), lambda_context)
    first = pipeline_aws.item("evt-1")["confirmed_at"]
    sender.handler(sqs_event(confirmation()), lambda_context)
    assert len(notifications(pipeline_aws)) == 1
    assert pipeline_aws.item("evt-1")["confirmed_at"] == first


def test_confirmed_at_is_kept_when_redelivered_after_the_idempotency_window(
        sender, pipeline_aws, lambda_context, sqs_event):
    put_received(pipeline_aws)
    sender.handler(sqs_event(confirmation()), lambda_context)
    first = pipeline_aws.item("evt-1")["confirmed_at"]
    pipeline_aws.forget_idempotency()
    sender.handler(sqs_event(confirmation()), lambda_context)
    assert pipeline_aws.item("evt-1")["confirmed_at"] == first


def test_an_unknown_event_is_a_batch_item_failure(sender, pipeline_aws, lambda_context,
                                                  sqs_event, logs):
    put_received(pipeline_aws, "evt-2")
    result = sender.handler(sqs_event(sqs_event.record(confirmation("missing"), message_id="m1"),
                                      sqs_event.record(confirmation("evt-2"), message_id="m2")),
                            lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert pipeline_aws.item("missing") is None  # not created by the update
    assert pipeline_aws.item("evt-2")["status"] == "CONFIRMED"
    [line] = [ln for ln in logs() if ln.get("message_id") == "m1"]
    assert "no event 'missing'" in line["exception"]


@pytest.mark.parametrize("poison, field", [
    ("not json", "body"), ({"event_id": "e"}, "source"), ({"source": "s3", "type": "t"},
                                                         "event_id"),
])
def test_a_bad_confirmation_is_a_batch_item_failure_and_logged(
        sender, pipeline_aws, lambda_context, sqs_event, logs, poison, field):
    result = sender.handler(sqs_event(sqs_event.record(poison, message_id="bad")),
                            lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    [line] = [ln for ln in logs() if ln.get("message_id") == "bad"]
    assert line["message"] == "rejected message"
    assert line["reason"].startswith(f"{field}: ")
    assert notifications(pipeline_aws) == []


def test_processor_then_sender_end_to_end(load_function, pipeline_aws, lambda_context,
                                          sqs_event):
    """The processor's confirmation message is what the sender reads; both stay idempotent
    when they share a process (each has its own idempotency store configuration)."""
    processor = load_function("processor")
    sender = load_function("confirmation_sender")
    event = sqs_event({"source": "api", "event_id": "api-1", "type": "order.created",
                       "payload": {}, "received_at": "2026-11-23T07:00:00Z"})
    processor.handler(event, lambda_context)
    processor.handler(event, lambda_context)  # a duplicate delivery
    [message] = pipeline_aws.drain(pipeline_aws.confirmation_queue_url)
    assert sender.handler(sqs_event(message), lambda_context) == {"batchItemFailures": []}
    assert sender.handler(sqs_event(message), lambda_context) == {"batchItemFailures": []}
    assert len(pipeline_aws.put_item_calls) == 1
    assert pipeline_aws.item("api-1")["status"] == "CONFIRMED"
    [note] = notifications(pipeline_aws)
    assert note["event_id"] == "api-1" and note["source"] == "api"
