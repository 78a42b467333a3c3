"""Nothing is lost in silence: a poison message in each queue ends in its DLQ with its reason
logged, and an event whose asynchronous invocation failed is kept with the error."""

from __future__ import annotations

import json

import pytest

from harness.dlq import DeadLetterQueue
from harness.probes import peek_messages, wait_for_item
from harness.waits import eventually
from tests.e2e.order_routing.samples import (INVENTORY_UPDATED, NOTIFICATION_SENT,
                                             ORDER_COMPLETED, entry, unique)


def test_poison_in_each_queue_ends_in_its_dlq_with_its_reason(localstack, outputs):
    queues = {"Order": "OrderProcessorFunctionName", "Inventory": "InventoryProcessorFunctionName"}
    poisoned = {}
    for queue, function in queues.items():  # both at once: the retries overlap
        dlq = DeadLetterQueue(localstack, outputs[f"{queue}QueueUrl"])
        # the same queue (LocalStack's URLs may differ in host: localhost or 127.0.0.1)
        assert dlq.url.rsplit("/", 1)[-1] == outputs[f"{queue}DlqUrl"].rsplit("/", 1)[-1]
        assert dlq.max_receive_count == 3
        poisoned[queue] = (dlq, *dlq.inject(), outputs[function])
    for queue, (dlq, message_id, marker, function) in poisoned.items():
        letter = dlq.wait_for(message_id)
        assert marker in letter.body
        dlq.assert_receive_count(letter)
        reasons = eventually(lambda: dlq.reasons(function, message_id, "rejected message"),
                             description=f"the reason {function} logged for {message_id}")
        assert f"{queue.lower()} queue message rejected: the body is not JSON" in reasons[0]


def async_failures(sqs, url: str, needle: str) -> list[dict]:
    records = [json.loads(m["Body"]) for m in peek_messages(sqs, url)]
    return [r for r in records if needle in json.dumps(r["requestPayload"])]


@pytest.mark.parametrize("make_event, error_type, reason", [
    (lambda: unique(ORDER_COMPLETED, order_id="ORD-MISSING-"), "OrderNotFound",
     "which the orders table does not hold: send its Order Created first"),
    (lambda: ("notifications", "Notification Sent",
              {"notification_id": unique(NOTIFICATION_SENT, notification_id="N-")[2][
                  "notification_id"]}),
     "InvalidEvent", "Notification Sent event rejected: message: Field required"),
], ids=["unknown order", "notification without message"])
def test_a_failed_async_invocation_is_kept_with_its_reason(localstack, outputs, make_event,
                                                           error_type, reason):
    event = make_event()
    needle = event[2].get("order_id") or event[2]["notification_id"]
    localstack.client("events").put_events(Entries=[entry(outputs["EventBusName"], event)])
    sqs = localstack.client("sqs")
    [record] = eventually(lambda: async_failures(sqs, outputs["AsyncFailureQueueUrl"], needle),
                          description=f"the failed invocation for {needle} kept")
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"]["detail"] == event[2]
    assert record["responsePayload"]["errorType"] == error_type
    assert reason in record["responsePayload"]["errorMessage"]


def test_a_reserve_beyond_stock_is_rejected_and_kept_with_the_reason(localstack, outputs):
    restock = unique(INVENTORY_UPDATED, item_id="ITEM-SHORT-")
    item_id = restock[2]["item_id"]
    restock[2]["quantity"] = 3
    events, ddb = localstack.client("events"), localstack.client("dynamodb")
    events.put_events(Entries=[entry(outputs["EventBusName"], restock)])
    wait_for_item(ddb, outputs["InventoryTableName"], {"item_id": {"S": item_id}})
    reserve = ("inventory", "Inventory Updated", {**restock[2], "action": "reserve",
                                                  "quantity": 5})
    events.put_events(Entries=[entry(outputs["EventBusName"], reserve)])
    [record] = eventually(lambda: async_failures(localstack.client("sqs"),
                                                 outputs["AsyncFailureQueueUrl"], item_id))
    assert record["responsePayload"]["errorType"] == "ReservationRejected"
    assert record["responsePayload"]["errorMessage"].startswith(
        f"reserve of 5 x {item_id} rejected: only 3 in stock")
    item = ddb.get_item(TableName=outputs["InventoryTableName"],
                        Key={"item_id": {"S": item_id}})["Item"]
    assert item["quantity"]["N"] == "3"  # never below zero, nothing taken
