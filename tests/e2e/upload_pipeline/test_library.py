"""The harness library's helpers, used on the deployed pipeline as a team would use them."""

from __future__ import annotations

import json
import uuid

from harness.concurrency import fire
from harness.dlq import DeadLetterQueue
from harness.faults import Fault
from harness.idempotency import assert_exactly_once, deliver_duplicates


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_concurrent_api_retries_with_one_key_have_one_effect(client):
    marker = unique("m")
    body = {"type": "payment.captured", "payload": {"marker": marker}}
    key = unique("k")
    report = assert_exactly_once(lambda i: client.post_api(body, idempotency_key=key),
                                 lambda: client.items_containing(marker), times=5,
                                 concurrently=True)
    assert all(r.status in (202, 409) for r in report.results), [r.status for r in report.results]
    client.wait_for_status(report.effects[0]["event_id"])


def test_duplicate_sqs_deliveries_of_one_event_have_one_effect(client, pipeline):
    marker = unique("dup")
    message = json.dumps({"source": "api", "event_id": f"api-{uuid.uuid4().hex}",
                          "type": "dup.delivery", "payload": {"marker": marker},
                          "received_at": "2026-11-23T00:00:00.000Z"})
    sqs = client.sqs
    assert_exactly_once(lambda i: deliver_duplicates(sqs, pipeline.outputs["IngestQueueUrl"],
                                                     message, times=3),
                        lambda: client.items_containing(marker), times=1)


def test_without_idempotency_key_each_post_is_its_own_event(client):
    """The check fails when it should: no key, so every send is a new event."""
    import pytest

    marker = unique("nokey")
    body = {"type": "no.key", "payload": {"marker": marker}}
    with pytest.raises(AssertionError, match="left 3 effects, not 1"):
        assert_exactly_once(lambda i: client.post_api(body), lambda: client.items_containing(marker),
                            times=3)


async def test_fire_many_uploads_none_lost_or_duplicated(client):
    prefix = f"load/{unique('run')}/"
    report = await fire(range(40), lambda i: client.upload(f"{prefix}{i}.txt", b"z"),
                        lambda key: sum(i["status"] == "CONFIRMED"
                                        for i in client.items_for_key(key)),
                        concurrency=10, timeout=60)
    report.assert_none_lost_or_duplicated()
    assert report.percentile_ms(99) < 30_000, report.summary()


def test_processor_failing_twice_is_retried_then_confirmed(client, pipeline, lambda_faults):
    marker = unique("flaky")
    lambda_faults.inject(pipeline.outputs["ProcessorFunctionName"],
                         Fault.raise_error("injected outage", first_calls=2,
                                           when_contains=marker))
    resp = client.post_api({"type": "flaky.event", "payload": {"marker": marker}})
    client.wait_for_status(resp.event_id, timeout=40)


def test_processor_always_failing_sends_the_event_to_the_dlq(localstack, client, pipeline,
                                                             lambda_faults):
    marker = unique("outage")
    lambda_faults.inject(pipeline.outputs["ProcessorFunctionName"],
                         Fault.raise_error("injected outage", when_contains=marker))
    client.post_api({"type": "doomed.event", "payload": {"marker": marker}})
    dlq = DeadLetterQueue(localstack, pipeline.outputs["IngestQueueUrl"])
    dlq.assert_receive_count(dlq.wait_for(marker, timeout=60))
