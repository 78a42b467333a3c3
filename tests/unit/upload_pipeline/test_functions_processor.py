"""``functions.upload_pipeline.processor``: each shape on the ingest queue becomes one item and one confirmation."""

from __future__ import annotations

import json
import time

import pytest


def s3_notification(key: str = "uploads/report+2026.csv", etag: str = "d41d8cd98f00b204",
                    event_time: str = "2026-11-23T07:00:00.123Z",
                    sequencer: str = "0055AED6DCD90281E5") -> dict:
    """An S3 event notification, as S3 publishes it to SNS (keys URL-encoded)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": event_time, "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810",
                             "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUW"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
               "bucket": {"name": "uploads-bucket", "ownerIdentity": {"principalId": "A3NL1KOZ"},
                          "arn": "arn:aws:s3:::uploads-bucket"},
               "object": {"key": key, "size": 1024, "eTag": etag, "sequencer": sequencer}},
    }]}


S3_TEST_EVENT = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-23T07:00:00Z",
                 "Bucket": "uploads-bucket", "RequestId": "5582815E1AEA5ADF",
                 "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}


def api_message(event_id: str = "7d5d7a37-1111-4d0e-9a55-4cbe2c6b0e01") -> dict:
    return {"source": "api", "event_id": event_id, "type": "order.created",
            "payload": {"order": 42, "total": 9.99}, "received_at": "2026-11-23T07:01:00.000Z"}


def bus_message(detail: dict | None = None, event_id: str = "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
                ) -> dict:
    """An EventBridge event as the rule's SNS target publishes it."""
    return {"version": "0", "id": event_id, "detail-type": "manual.replay",
            "source": "pipeline.manual", "account": "123456789012",
            "time": "2026-11-23T07:02:00Z", "region": "us-east-1", "resources": [],
            "detail": detail if detail is not None else {"reason": "backfill", "count": 3}}


@pytest.fixture
def processor(load_function):
    return load_function("processor")


def confirmations(aws) -> list[dict]:
    return [json.loads(m) for m in aws.drain(aws.confirmation_queue_url)]


def test_an_upload_notification_is_recorded_and_confirmation_requested(
        processor, pipeline_aws, lambda_context, sqs_event):
    result = processor.handler(sqs_event(s3_notification()), lambda_context)
    assert result == {"batchItemFailures": []}
    [item] = pipeline_aws.items()
    assert item["event_id"].startswith("s3-")
    assert item["source"] == "s3"
    assert item["status"] == "RECEIVED"
    assert item["object_key"] == "uploads/report 2026.csv"  # URL-decoded
    assert item["bucket"] == "uploads-bucket"
    assert item["type"] == "ObjectCreated:Put"
    assert item["received_at"] == "2026-11-23T07:00:00.123Z"
    assert 29 * 86400 < int(item["ttl"]) - time.time() <= 30 * 86400
    assert json.loads(item["payload"])["size"] == 1024
    assert confirmations(pipeline_aws) == [
        {"event_id": item["event_id"], "source": "s3", "type": "ObjectCreated:Put"}]


def test_an_api_event_is_recorded_under_the_api_handlers_id(processor, pipeline_aws,
                                                           lambda_context, sqs_event):
    assert processor.handler(sqs_event(api_message()), lambda_context) == {"batchItemFailures": []}
    item = pipeline_aws.item("7d5d7a37-1111-4d0e-9a55-4cbe2c6b0e01")
    assert item["source"] == "api"
    assert item["type"] == "order.created"
    assert "object_key" not in item
    assert json.loads(item["payload"]) == {"order": 42, "total": 9.99}
    assert confirmations(pipeline_aws)[0]["source"] == "api"


def test_a_bus_event_is_recorded_under_bus_and_its_eventbridge_id(processor, pipeline_aws,
                                                         lambda_context, sqs_event):
    processor.handler(sqs_event(bus_message()), lambda_context)
    item = pipeline_aws.item("bus-6a7e8feb-b491-4cf7-a9f1-bf3703467718")
    assert item["source"] == "bus"
    assert item["type"] == "manual.replay"
    assert item["received_at"] == "2026-11-23T07:02:00.000Z"
    assert json.loads(item["payload"]) == {"reason": "backfill", "count": 3}


def test_a_bus_event_may_choose_its_event_id(processor, pipeline_aws, lambda_context,
                                             sqs_event):
    processor.handler(sqs_event(bus_message({"event_id": "chosen-1", "x": 1})), lambda_context)
    assert pipeline_aws.item("bus-chosen-1")["source"] == "bus"


def test_all_three_shapes_in_one_batch(processor, pipeline_aws, lambda_context, sqs_event):
    result = processor.handler(sqs_event(s3_notification(), api_message(), bus_message()),
                               lambda_context)
    assert result == {"batchItemFailures": []}
    assert sorted(i["source"] for i in pipeline_aws.items()) == ["api", "bus", "s3"]
    assert len(confirmations(pipeline_aws)) == 3


def test_the_s3_test_event_is_ignored_and_logged(processor, pipeline_aws, lambda_context,
                                                 sqs_event, logs):
    record = sqs_event.record(S3_TEST_EVENT, message_id="test-event-msg")
    assert processor.handler(sqs_event(record), lambda_context) == {"batchItemFailures": []}
    assert pipeline_aws.items() == []
    assert confirmations(pipeline_aws) == []
    assert any(line["message"] == "S3 test event ignored" and
               line["message_id"] == "test-event-msg" for line in logs())


@pytest.mark.parametrize("poison, field", [
    ("this is not json", "body"),
    ({"hello": "world"}, "body"),
    ([1, 2], "body"),
    ({"source": "api", "event_id": "e1", "payload": {}, "received_at": "2026-11-23T07:00:00Z"},
     "type"),
    ({**bus_message(), "time": "yesterday"}, "time"),
    ({"Records": [{"eventName": "ObjectCreated:Put"}]}, "body"),
])
def test_poison_is_a_batch_item_failure_logged_with_its_message_id(
        processor, pipeline_aws, lambda_context, sqs_event, logs, poison, field):
    bad = sqs_event.record(poison, message_id="poison-1", receive_count=2)
    good = sqs_event.record(api_message(), message_id="good-1")
    result = processor.handler(sqs_event(good, bad), lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert [i["source"] for i in pipeline_aws.items()] == ["api"]  # the good one went through
    [line] = [ln for ln in logs() if ln.get("message_id") == "poison-1"]
    assert line["level"] == "ERROR"
    assert line["message"] == "rejected message"
    assert line["reason"].startswith(f"{field}: ")
    assert any(e["field"] == field for e in line["errors"])
    assert line["receive_count"] == 2


def test_an_unknown_shape_is_named_as_such(processor, pipeline_aws, lambda_context, sqs_event,
                                            logs):
    processor.handler(sqs_event(sqs_event.record({"marker": 1}, message_id="x")), lambda_context)
    [line] = [ln for ln in logs() if ln.get("message_id") == "x"]
    assert line["reason"].startswith("body: unrecognised message: expected an S3 event "
                                     "notification")


def test_a_batch_of_only_poison_is_reported_not_raised(processor, pipeline_aws, lambda_context,
                                                       sqs_event):
    bad = sqs_event.record("{}", message_id="p")
    assert processor.handler(sqs_event(bad), lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "p"}]}


def test_the_same_notification_twice_is_one_put_and_one_confirmation(
        processor, pipeline_aws, lambda_context, sqs_event):
    body = s3_notification()
    processor.handler(sqs_event(body, body), lambda_context)  # duplicates within one batch
    processor.handler(sqs_event(body), lambda_context)  # and redelivered later
    assert len(pipeline_aws.put_item_calls) == 1
    assert len(pipeline_aws.items()) == 1
    assert len(confirmations(pipeline_aws)) == 1


def test_another_upload_of_the_same_key_is_another_event(processor, pipeline_aws,
                                                         lambda_context, sqs_event):
    processor.handler(sqs_event(s3_notification()), lambda_context)
    processor.handler(sqs_event(s3_notification(etag="0cc175b9c0f1b6a8",
                                                event_time="2026-11-23T07:05:00.000Z")),
                      lambda_context)
    assert len(pipeline_aws.items()) == 2


def test_duplicate_api_and_bus_deliveries_are_one_item_each(processor, pipeline_aws,
                                                            lambda_context, sqs_event):
    for _ in range(2):
        processor.handler(sqs_event(api_message(), bus_message()), lambda_context)
    assert len(pipeline_aws.put_item_calls) == 2
    assert len(confirmations(pipeline_aws)) == 2


def test_a_confirmed_event_redelivered_after_the_idempotency_window_stays_confirmed(
        processor, pipeline_aws, lambda_context, sqs_event):
    processor.handler(sqs_event(api_message()), lambda_context)
    confirmations(pipeline_aws)
    pipeline_aws.dynamodb.update_item(
        TableName=pipeline_aws.events_table, Key={"event_id": {"S": api_message()["event_id"]}},
        UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CONFIRMED"}})
    pipeline_aws.forget_idempotency()
    assert processor.handler(sqs_event(api_message()), lambda_context) == {"batchItemFailures": []}
    assert pipeline_aws.item(api_message()["event_id"])["status"] == "CONFIRMED"
    assert confirmations(pipeline_aws) == []


def test_a_failed_write_is_retried_not_lost(processor, pipeline_aws, lambda_context, sqs_event,
                                            logs):
    from functions.upload_pipeline.common import aws

    def broken(*args, **kwargs):
        raise RuntimeError("DynamoDB is down")

    table = aws.events_table()
    table.put_item = broken
    record = sqs_event.record(api_message(), message_id="m-1")
    assert processor.handler(sqs_event(record), lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "m-1"}]}
    [line] = [ln for ln in logs() if ln.get("message_id") == "m-1"]
    assert line["level"] == "ERROR"
    assert "DynamoDB is down" in line["exception"]
    del table.put_item  # DynamoDB is back
    # the idempotency record of the failed attempt is gone: the retry goes through
    assert processor.handler(sqs_event(record), lambda_context) == {"batchItemFailures": []}
    assert pipeline_aws.item(api_message()["event_id"])["status"] == "RECEIVED"
