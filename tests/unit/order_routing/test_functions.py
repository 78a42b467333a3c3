"""The order-routing handlers against moto: each event type, each queue message, each workflow
step does what the app's docstrings promise, and bad input fails with a reason that names it."""

from __future__ import annotations

import re

import pytest

from tests.e2e.order_routing.samples import (INVENTORY_UPDATED, NOTIFICATION_SENT,
                                             ORDER_COMPLETED, ORDER_CREATED)
from tests.unit.order_routing.conftest import bus_event, sqs_batch


@pytest.fixture
def orders(load_function):
    return load_function("order_processor")


@pytest.fixture
def inventory(load_function):
    return load_function("inventory_processor")


def test_order_created_stores_the_order_asks_for_stock_and_notifies(orders, routing_aws,
                                                                    lambda_context):
    assert orders.handler(bus_event(*ORDER_CREATED), lambda_context) == {"status": "CREATED"}
    order = routing_aws.order("ORD-001")
    assert order["status"] == "CREATED" and order["customer_id"] == "CUST-001"
    assert str(order["total"]) == "59.98" and order["items"][0]["item_id"] == "ITEM-001"
    [request] = routing_aws.drain(routing_aws.inventory_queue_url)
    assert request == {"kind": "reservation_request", "order_id": "ORD-001",
                       "items": [{"item_id": "ITEM-001", "quantity": 2, "price": "29.99"}]}
    [note] = routing_aws.drain(routing_aws.notification_tap_url)
    assert note["order_id"] == "ORD-001" and note["status"] == "CREATED"


def test_a_second_delivery_of_an_order_sends_nothing_again(orders, routing_aws, lambda_context):
    orders.handler(bus_event(*ORDER_CREATED), lambda_context)
    routing_aws.drain(routing_aws.inventory_queue_url)
    assert orders.handler(bus_event(*ORDER_CREATED), lambda_context) == {"status": "DUPLICATE"}
    assert routing_aws.drain(routing_aws.inventory_queue_url) == []


def test_order_completed_marks_the_order(orders, routing_aws, lambda_context):
    orders.handler(bus_event(*ORDER_CREATED), lambda_context)
    assert orders.handler(bus_event(*ORDER_COMPLETED), lambda_context) == {"status": "COMPLETED"}
    assert routing_aws.order("ORD-001")["status"] == "COMPLETED"


def test_completing_an_unknown_order_fails_with_the_reason(orders, lambda_context):
    with pytest.raises(Exception, match="ORD-001.*send its Order Created first") as caught:
        orders.handler(bus_event(*ORDER_COMPLETED), lambda_context)
    assert type(caught.value).__name__ == "OrderNotFound"


@pytest.mark.parametrize("detail, field", [
    ({"customer_id": "C", "items": [{"item_id": "I", "quantity": 1}], "total": 1}, "order_id"),
    ({"order_id": "O", "customer_id": "C", "items": [], "total": 1}, "items"),
    ({"order_id": "O", "customer_id": "C", "items": [{"item_id": "I", "quantity": 0}],
      "total": 1}, "items.0.quantity"),
    ("not an object", "(root)"),
])
def test_a_bad_order_names_the_field(orders, routing_aws, lambda_context, detail, field):
    with pytest.raises(ValueError, match=f"Order Created event rejected: {re.escape(field)}"):
        orders.handler(bus_event("orders", "Order Created", detail), lambda_context)
    assert routing_aws.drain(routing_aws.inventory_queue_url) == []


def test_inventory_actions_keep_stock_at_or_above_zero(inventory, routing_aws, lambda_context):
    def update(action: str, quantity: int) -> dict:
        detail = {**INVENTORY_UPDATED[2], "action": action, "quantity": quantity}
        return inventory.handler(bus_event("inventory", "Inventory Updated", detail),
                                 lambda_context)

    assert inventory.handler(bus_event(*INVENTORY_UPDATED), lambda_context) == {
        "item_id": "ITEM-001", "quantity": 100}
    assert update("reserve", 30)["quantity"] == 70
    assert update("release", 5)["quantity"] == 75
    with pytest.raises(Exception, match=r"reserve of 76 x ITEM-001 rejected: only 75 in stock"):
        update("reserve", 76)
    assert routing_aws.stock("ITEM-001") == 75
    assert update("set", 3)["quantity"] == 3


def test_an_unknown_action_names_the_choices(inventory, lambda_context):
    detail = {**INVENTORY_UPDATED[2], "action": "steal"}
    with pytest.raises(ValueError, match="action: Input should be 'restock', 'reserve'"):
        inventory.handler(bus_event("inventory", "Inventory Updated", detail), lambda_context)


def test_a_reservation_takes_every_item_or_none(inventory, routing_aws, lambda_context):
    routing_aws.set_stock("A", 5)
    routing_aws.set_stock("B", 1)
    request = {"order_id": "O1", "items": [{"item_id": "A", "quantity": 2},
                                           {"item_id": "B", "quantity": 2}]}
    assert inventory.handler(sqs_batch(request), lambda_context) == {"batchItemFailures": []}
    [result] = routing_aws.drain(routing_aws.order_queue_url)
    assert result["reservation"] == "REJECTED"
    assert result["reason"] == "not enough stock for B: 2 asked, 1 in stock"
    assert (routing_aws.stock("A"), routing_aws.stock("B")) == (5, 1)

    routing_aws.set_stock("B", 2)
    inventory.handler(sqs_batch(request), lambda_context)
    inventory.handler(sqs_batch(request), lambda_context)  # redelivered: reserves nothing twice
    results = routing_aws.drain(routing_aws.order_queue_url)
    assert [r["reservation"] for r in results] == ["RESERVED", "RESERVED"]
    assert (routing_aws.stock("A"), routing_aws.stock("B")) == (3, 0)


def test_poison_on_a_queue_fails_alone(inventory, orders, routing_aws, lambda_context, caplog):
    routing_aws.set_stock("A", 5)
    good = {"order_id": "O2", "items": [{"item_id": "A", "quantity": 1}]}
    response = inventory.handler(sqs_batch("<<not json>>", good), lambda_context)
    assert len(response["batchItemFailures"]) == 1
    assert routing_aws.stock("A") == 4
    [rejected] = [r for r in caplog.records if r.getMessage() == "rejected message"]
    assert rejected.reason.startswith("inventory queue message rejected: the body is not JSON")
    caplog.clear()
    response = orders.handler(sqs_batch({"order_id": "O3", "reservation": "MAYBE"}),
                              lambda_context)
    assert len(response["batchItemFailures"]) == 1
    [rejected] = [r for r in caplog.records if r.getMessage() == "rejected message"]
    assert rejected.reason.startswith("order queue message rejected: reservation: Input should")


def test_a_reservation_result_is_written_on_its_order(orders, routing_aws, lambda_context):
    orders.handler(bus_event(*ORDER_CREATED), lambda_context)
    orders.handler(sqs_batch({"order_id": "ORD-001", "reservation": "REJECTED",
                              "reason": "not enough stock"}), lambda_context)
    order = routing_aws.order("ORD-001")
    assert (order["reservation"], order["reservation_reason"]) == ("REJECTED", "not enough stock")


def test_workflow_steps_report_the_order_and_its_stock(orders, inventory, routing_aws,
                                                       lambda_context):
    step = {"workflow_id": "WF-001", "order_id": "ORD-001"}
    with pytest.raises(Exception, match="WF-001: order 'ORD-001' is not in the orders table"):
        orders.handler(step, lambda_context)
    orders.handler(bus_event(*ORDER_CREATED), lambda_context)
    routing_aws.set_stock("ITEM-001", 1)
    assert orders.handler(step, lambda_context) == {
        "order_id": "ORD-001", "status": "CREATED", "total": "59.98", "reservation": "PENDING"}
    assert inventory.handler(step, lambda_context) == {
        "order_id": "ORD-001", "available": False,
        "items": [{"item_id": "ITEM-001", "asked": 2, "in_stock": 1}]}


def test_notifications_are_published_verbatim(load_function, routing_aws, lambda_context):
    notifications = load_function("notification_processor")
    detail = {**NOTIFICATION_SENT[2], "message": "ünïcødé \u2028 ok"}
    notifications.handler(bus_event("notifications", "Notification Sent", detail),
                          lambda_context)
    [published] = routing_aws.drain(routing_aws.notification_tap_url)
    assert published == detail
    with pytest.raises(ValueError, match="Notification Sent event rejected: message"):
        notifications.handler(bus_event("notifications", "Notification Sent",
                                        {"notification_id": "N"}), lambda_context)


def test_a_processor_refuses_events_of_another_rule(orders, lambda_context):
    with pytest.raises(ValueError, match="not 'Inventory Updated': check the orders rule"):
        orders.handler(bus_event(*INVENTORY_UPDATED[:2], INVENTORY_UPDATED[2]), lambda_context)


def test_a_different_order_under_a_taken_id_fails_with_the_reason(orders, routing_aws,
                                                                  lambda_context):
    orders.handler(bus_event(*ORDER_CREATED), lambda_context)
    other = {**ORDER_CREATED[2], "total": 1}
    with pytest.raises(Exception, match="'ORD-001' differs from the order stored under that id"):
        orders.handler(bus_event("orders", "Order Created", other), lambda_context)
    assert str(routing_aws.order("ORD-001")["total"]) == "59.98"
