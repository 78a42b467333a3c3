"""The order-events app end to end: publisher -> bus -> rule -> processor -> table (GSI)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from harness.patterns import assert_pattern
from harness.waits import eventually, never
from infra.order_events.stack import ORDER_PLACED_PATTERN
from tests.e2e.order_events.client import SOURCE, iso, sample_order, window

#: how long an event that must not reach the processor is watched (the matching control event
#: is stored well within it)
QUIET = 2.0


def test_a_published_order_is_queryable_by_type_and_time(orders, bus_tap):
    start, end = window()
    order = sample_order()
    published = orders.publish(order)
    assert published.error_type is None, published.error_message

    [event] = bus_tap.wait_for(lambda e: e["id"] == published.event_id)
    assert event["source"] == SOURCE and event["detail-type"] == "order_placed"
    assert event["detail"] == {**order, "status": "PLACED"}

    item = orders.wait_stored(order["orderId"])
    assert item["event_type"] == "order_placed" and item["status"] == "PLACED"
    assert item["customer"] == "John Doe" and item["event_id"] == published.event_id
    assert item["items"] == [{"id": "product-123", "quantity": 2}]

    in_window = orders.by_type("order_placed", start, end)
    assert order["orderId"] in {i["order_id"] for i in in_window}
    assert all(iso(start) <= i["timestamp"] <= iso(end) and i["event_type"] == "order_placed"
               for i in in_window)
    earlier = orders.by_type("order_placed", start - timedelta(hours=1), start)
    assert order["orderId"] not in {i["order_id"] for i in earlier}
    assert order["orderId"] not in {i["order_id"] for i in
                                    orders.by_type("order_shipped", start, end)}


@pytest.mark.parametrize("how", ["another status", "another detail-type", "another source"])
def test_events_the_rule_does_not_match_never_reach_the_processor(orders, bus_tap, how):
    order = sample_order()
    if how == "another status":
        event_id = orders.publish({**order, "status": "SHIPPED"}).event_id
    elif how == "another detail-type":
        event_id = orders.publish({**order, "detailType": "order_shipped"}).event_id
    else:
        event_id = orders.put_on_bus({**order, "status": "PLACED"}, source="custom.other")
    assert event_id, "the event was not published"
    bus_tap.wait_for(lambda e: e["id"] == event_id,
                     description=f"the {how} event on the bus")  # it is there to be routed

    control = sample_order()
    orders.publish(control)  # put after it: the processor is working
    never(lambda: orders.stored(order["orderId"]), during=QUIET,
          description=f"an order_placed event with {how} reaches the processor")
    orders.wait_stored(control["orderId"], timeout=5)


@pytest.mark.parametrize("payload, names", [
    ({"customer": "x", "items": [{"id": "p", "quantity": 1}]}, ["orderId: Field required"]),
    ({"orderId": "", "customer": "x", "items": [{"id": "p", "quantity": 1}]}, ["orderId"]),
    ({"orderId": 1234, "customer": "x", "items": [{"id": "p", "quantity": 1}]},
     ["orderId: Input should be a valid string"]),
    ({"orderId": "O-1", "customer": "x", "items": []}, ["items"]),
    ({"orderId": "O-1", "customer": "x", "items": [{"id": "p", "quantity": 0}]},
     ["items.0.quantity: Input should be greater than 0"]),
    ({"orderId": "O-1", "customer": "x", "items": [{"id": "p", "quantity": 1}], "status": 7},
     ["status: Input should be a valid string"]),
    (["TEST-1234"], ["input: Input should be a valid dictionary"]),
], ids=["no orderId", "empty orderId", "numeric orderId", "no items", "zero quantity",
        "numeric status", "not an object"])
def test_malformed_publisher_input_gets_a_clear_error_and_publishes_nothing(
        orders, bus_tap, payload, names):
    before = len(bus_tap.drain())
    published = orders.publish(payload)
    assert published.event_id is None
    assert published.error_type == "InvalidOrderRequest"
    assert published.error_message.startswith("invalid order request, nothing published: ")
    for name in names:
        assert name in published.error_message, published.error_message
    never(lambda: bus_tap.drain()[before:], during=1.0,
          description="a malformed request put an event on the bus")


def test_the_deployed_rule_matches_exactly_the_seed_pattern(localstack, orders):
    # a rule on a custom bus: CloudFormation's Ref (and so the output) is "bus|rule", as on AWS
    rule_name = orders.outputs["OrderPlacedRuleName"].split("|")[-1]
    rule = orders.events.describe_rule(Name=rule_name, EventBusName=orders.bus)
    pattern = json.loads(rule["EventPattern"])
    assert pattern == ORDER_PLACED_PATTERN

    def event(status="PLACED", detail_type="order_placed", source=SOURCE):
        return {"source": source, "detail-type": detail_type,
                "detail": {**sample_order(), "status": status}}

    assert_pattern(localstack, pattern, matching=[event()], not_matching=[
        event("SHIPPED"), event("placed"), event(detail_type="order_shipped"),
        event(source="custom.other"), {"source": SOURCE, "detail-type": "order_placed",
                                       "detail": sample_order()}], quiet=0.5)


def test_the_rule_targets_the_processor_with_the_dlq_for_undeliverable_events(orders):
    rule_name = orders.outputs["OrderPlacedRuleName"].split("|")[-1]
    [target] = orders.events.list_targets_by_rule(Rule=rule_name,
                                                  EventBusName=orders.bus)["Targets"]
    processor = orders.lambda_.get_function_configuration(
        FunctionName=orders.outputs["OrderProcessorFunctionName"])
    dlq_arn = orders.sqs.get_queue_attributes(QueueUrl=orders.outputs["ProcessorDlqUrl"],
                                              AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert target["Arn"] == processor["FunctionArn"]
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
    assert processor["DeadLetterConfig"] == {"TargetArn": dlq_arn}


def test_an_order_event_that_is_not_an_order_ends_in_the_dlq_with_its_reason(orders):
    event_id = orders.put_on_bus({"status": "PLACED", "customer": "no order id"})

    def dead_letter():
        found = [m for m in orders.dead_letters() if json.loads(m["Body"]).get("id") == event_id]
        assert found, "not in the processor's dead-letter queue yet"
        return found[0]

    letter = eventually(dead_letter, 20, description="the event in the processor's DLQ")
    reason = letter["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert "is not an order" in reason and "orderId: Field required" in reason, reason


def test_both_functions_are_traced_with_x_ray(orders):
    for output in ("EventPublisherFunctionName", "OrderProcessorFunctionName"):
        config = orders.lambda_.get_function_configuration(FunctionName=orders.outputs[output])
        assert config["TracingConfig"] == {"Mode": "Active"}, output
