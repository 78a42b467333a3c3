"""The reference pipeline end to end: each way in reaches CONFIRMED, once; poison reaches the DLQ."""

from __future__ import annotations

import json
import re
import time
import uuid

from harness.probes import peek_messages
from harness.waits import eventually

OUTPUTS = ("BucketName", "TopicArn", "IngestQueueUrl", "IngestDlqUrl", "EventsTableName",
           "ConfirmationQueueUrl", "ConfirmationDlqUrl", "NotificationTopicArn", "EventBusName",
           "ApiId", "ApiStage")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_stack_has_every_output(pipeline):
    assert set(OUTPUTS) <= set(pipeline.outputs)


def test_upload_reaches_confirmed_with_ttl_and_notification(client, inbox):
    key = f"incoming/{unique('report')} with spaces.csv"
    client.upload(key, b"a,b\n1,2\n")
    item = client.wait_for_upload(key)
    assert item["source"] == "s3" and item["object_key"] == key
    assert item["confirmed_at"] >= item["received_at"]
    days_ahead = (int(item["ttl"]) - time.time()) / 86400
    assert 29 < days_ahead <= 30, f"ttl should be ~30 days ahead, is {days_ahead:.1f}"
    notes = inbox.wait_for(item["event_id"])
    assert notes[0]["status"] == "CONFIRMED"


def test_api_event_reaches_confirmed(client, inbox):
    resp = client.post_api({"type": "order.created", "payload": {"order": unique("o")}})
    assert resp.status == 202, resp.body
    item = client.wait_for_status(resp.event_id)
    assert item["source"] == "api" and item["type"] == "order.created"
    assert inbox.wait_for(resp.event_id)[0]["event_id"] == resp.event_id


def test_bus_event_reaches_confirmed(client, inbox):
    event_id = client.put_bus_event({"type": "inventory.counted", "payload": {"sku": unique("s")}})
    item = client.wait_for_status(event_id)
    assert item["source"] == "bus"
    assert inbox.wait_for(event_id)


def test_invalid_api_body_gets_400_naming_the_field(client):
    resp = client.post_api({"type": "order.created", "payload": "not an object"})
    assert resp.status == 400
    assert "payload" in resp.body["message"]
    resp = client.post_api(None, raw=b"{not json")
    assert resp.status == 400 and "JSON" in resp.body["message"]


def test_api_retry_with_same_idempotency_key_gives_one_event(client, inbox):
    key = unique("idem")
    body = {"type": "payment.captured", "payload": {"amount": 42}}
    first, second = client.post_api(body, key), client.post_api(body, key)
    assert first.status == second.status == 202
    assert first.event_id == second.event_id
    client.wait_for_status(first.event_id)
    inbox.wait_for(first.event_id)
    reused = client.post_api({"type": "payment.captured", "payload": {"amount": 1}}, key)
    assert reused.status == 422, reused.body


def test_duplicate_deliveries_give_one_item_and_one_confirmation(localstack, client, inbox,
                                                                pipeline, topic_tap):
    """The same upload notification delivered twice more (SQS at-least-once): one effect."""
    key = f"dup/{unique('file')}.txt"
    client.upload(key)
    item = client.wait_for_upload(key)
    original = topic_tap.wait_for(lambda body: json.dumps(key)[1:-1] in body,
                                  description="S3's notification for the upload")[0]
    sqs = localstack.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=pipeline.outputs["IngestQueueUrl"], MessageBody=original)
    eventually(lambda: client.queue_depth("IngestQueueUrl") == {"visible": 0, "in_flight": 0},
               timeout=20, description="the duplicates were consumed")
    assert len(client.items_for_key(key)) == 1
    assert len(inbox.received(item["event_id"])) == 1


def test_same_bus_event_twice_gives_one_item(client, inbox):
    detail = {"type": "manual.retry", "payload": {}, "event_id": unique("b")}
    first = client.put_bus_event(detail)
    second = client.put_bus_event(detail)
    assert first == second
    client.wait_for_status(first)
    inbox.wait_for(first)
    assert len(inbox.received(first)) == 1


def test_poison_lands_in_dlq_while_the_rest_of_its_batch_is_processed(localstack, client,
                                                                        pipeline):
    marker = unique("poison")
    poison_id = client.publish_raw(json.dumps({"marker": marker, "garbage": True}))
    good = [client.post_api({"type": "batch.mate", "payload": {"i": i}}) for i in range(3)]
    for resp in good:
        client.wait_for_status(resp.event_id)
    sqs = localstack.client("sqs")

    def poison_in_dlq():
        return next((m for m in peek_messages(sqs, pipeline.outputs["IngestDlqUrl"])
                     if marker in m["Body"]), None)

    dead = eventually(poison_in_dlq, timeout=40, description="poison message in the ingest DLQ")
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 3
    logs = localstack.client("logs")
    group = f"/aws/lambda/{pipeline.outputs['ProcessorFunctionName']}"
    lines = logs.filter_log_events(logGroupName=group, filterPattern='"rejected message"')["events"]
    rejected = [json.loads(e["message"]) for e in lines if "rejected message" in e["message"]]
    assert any(r.get("message_id") and "unrecognised message" in r.get("reason", "")
               for r in rejected), rejected
    assert poison_id


def test_trace_follows_a_confirmed_event_and_a_poisoned_one(client):
    resp = client.post_api({"type": "trace.me", "payload": {"marker": unique("t")}})
    client.wait_for_status(resp.event_id)
    text = client.trace(resp.event_id)
    assert "last seen at notification published" in text
    assert "✔ processor Lambda" in text and "event recorded" in text
    # the SNS publish log (plugin lsh_localstack_plugins.sns_log) shows both publishes, timed
    assert re.search(r"✔ SNS publish +\d{4}-\d\d-\d\dT[\d:.]+\+00:00  message \S+ to \S+ "
                     r"\(Publish call", text), text
    assert re.search(r"✔ confirmed +\S+  status CONFIRMED", text), text
    assert re.search(r"✔ notification published +\d{4}-\d\d-\d\dT", text), text
    lines = text.splitlines()
    assert [line.split()[1] for line in lines[1:4]] == ["way", "SNS", "ingest"], text

    marker = unique("stuck")
    client.publish_raw(json.dumps({"marker": marker}))
    stuck = eventually(lambda: (lambda t: t if "✔ ingest DLQ" in t else None)(client.trace(marker)),
                       timeout=40, description="the trace sees the poison in the ingest DLQ")
    assert "last seen at" in stuck and "✘ events table" in stuck
    assert "✔ SNS publish" in stuck  # found by the marker in the message body


def test_waiting_for_a_lost_event_times_out_with_its_trace(client):
    import pytest

    from harness.waits import EventuallyTimeout

    with pytest.raises(EventuallyTimeout) as info:
        client.wait_for_status("api-never-sent", timeout=0.5)
    assert "trace of 'api-never-sent': last seen at nowhere" in str(info.value)
    assert "✘ events table" in str(info.value)
    assert "✘ SNS publish" in str(info.value) and "no message published to" in str(info.value)
    assert "✘ notification published" in str(info.value)


def test_trace_of_an_upload_and_a_bus_event_shows_their_sns_publish(client, localstack, pipeline):
    """S3 and EventBridge publish through LocalStack's internal client: the log names them."""
    from harness.sns_log import SnsPublishLog

    key = f"incoming/{unique('traced')} with spaces.csv"
    client.upload(key, b"x")
    item = client.wait_for_upload(key)
    text = client.trace(item["event_id"])
    assert re.search(r"✔ SNS publish +\d{4}-\S+  message \S+ to \S+ \(via s3,", text), text
    bus_id = client.put_bus_event({"type": "traced", "payload": {"n": 1}})
    client.wait_for_status(bus_id)
    text = client.trace(bus_id)
    assert re.search(r"✔ SNS publish +\d{4}-\S+  message \S+ to \S+ \(via events,", text), text
    [record] = SnsPublishLog(localstack).published(topic_arn=pipeline.outputs["TopicArn"],
                                                   contains=bus_id.removeprefix("bus-"))
    assert record.origin_service == "events" and record.subscriptions
