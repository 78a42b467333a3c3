"""The saga's branches, each forced through the harness's faults (never by sleeping): the happy
path, a flaky payment retried with backoff, a declined payment, unavailable inventory (refund,
then cancel), and a failed notification that leaves the completed order alone."""

from __future__ import annotations

import uuid

from harness.faults import Fault
from harness.stepfunctions import assert_saga
from tests.e2e.order_saga.client import COMPENSATIONS, HAPPY_STEPS, events_of, wait_for_events

HAPPY_EVENTS = ["Order Created", "Payment Processed", "Inventory Reserved", "Notification Sent"]


def unique(prefix: str) -> str:
    """A customer or product id no other order has: the faults below match it."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_happy_path_completes_with_the_four_events_in_order(saga, bus_events):
    order = saga.place_order()

    path = saga.path(order)

    assert_saga(path, steps=HAPPY_STEPS, not_entered=COMPENSATIONS,
                attempts={"ProcessPayment": 1, "ReserveInventory": 1}, status="SUCCEEDED")
    item = saga.final_item(order)
    assert item["status"] == "COMPLETED" and "refundId" not in item
    found = wait_for_events(bus_events, order, HAPPY_EVENTS)
    assert [e["detail-type"] for e in found] == HAPPY_EVENTS
    assert found[1]["detail"]["paymentId"] == item["paymentId"]
    assert item["createdAt"] <= item["updatedAt"]


def test_a_flaky_payment_is_retried_with_backoff_then_completes(saga, stack, lambda_faults):
    customer = unique("customer-flaky")
    lambda_faults.inject(stack.outputs["PaymentServiceName"], Fault.raise_error(
        "payment gateway unreachable", first_calls=2, when_contains=customer))
    order = saga.place_order(customer_id=customer)

    path = saga.path(order)

    assert_saga(path, steps=HAPPY_STEPS, attempts={"ProcessPayment": 3}, status="SUCCEEDED")
    payment = path.runs_of("ProcessPayment")[0]
    assert [e["error"] for e in payment.errors] == ["RuntimeError", "RuntimeError"]
    assert saga.final_item(order)["status"] == "COMPLETED"


def test_a_declined_payment_fails_the_order_and_reserves_nothing(saga, stack, lambda_faults,
                                                                 bus_events):
    order_customer = unique("customer-declined")
    lambda_faults.inject(stack.outputs["PaymentServiceName"], Fault.answer(
        {"status": "FAILED", "reason": "card declined (forced by the test)"},
        when_contains=order_customer))
    order = saga.place_order(customer_id=order_customer)

    path = saga.path(order)

    assert_saga(path, steps=["ProcessPayment", "CheckPaymentStatus", "MarkPaymentFailed",
                             "NotifyPaymentFailed", "PaymentFailed"],
                not_entered=["ReserveInventory", *COMPENSATIONS, "CompleteOrder"],
                status="FAILED")
    assert path.error == "PaymentFailed"
    item = saga.final_item(order)
    assert item["status"] == "PAYMENT_FAILED" and "paymentId" not in item
    found = wait_for_events(bus_events, order, ["Order Created", "Notification Sent"])
    assert not [e for e in found if e["detail-type"].startswith("Inventory")]
    assert found[-1]["detail"]["kind"] == "PAYMENT_FAILED"


def test_unavailable_inventory_refunds_the_payment_then_cancels(saga, stack, lambda_faults,
                                                                bus_events):
    product = unique("prod-gone")
    lambda_faults.inject(stack.outputs["InventoryServiceName"], Fault.answer(
        {"status": "UNAVAILABLE", "reason": "out of stock (forced by the test)"},
        when_contains=product))
    order = saga.place_order(product_id=product)

    path = saga.path(order)

    assert_saga(path, steps=["ProcessPayment", "ReserveInventory", "CheckInventoryStatus"],
                compensations=COMPENSATIONS, not_entered=["CompleteOrder", "SendNotification"],
                status="FAILED")
    assert path.error == "InventoryFailed"
    item = saga.final_item(order)
    assert item["status"] == "CANCELLED" and item["refundId"].startswith("ref-")
    found = wait_for_events(bus_events, order, ["Payment Processed", "Payment Refunded"])
    paid = next(e for e in found if e["detail-type"] == "Payment Processed")["detail"]
    refunded = next(e for e in found if e["detail-type"] == "Payment Refunded")["detail"]
    assert refunded["paymentId"] == paid["paymentId"] == item["paymentId"]
    assert refunded["refundId"] == item["refundId"]


def test_a_failed_notification_does_not_undo_a_completed_order(saga, stack, lambda_faults,
                                                               bus_events):
    customer = unique("customer-unreachable")
    lambda_faults.inject(stack.outputs["NotificationServiceName"], Fault.raise_error(
        "mail server down", when_contains=customer))
    order = saga.place_order(customer_id=customer)

    path = saga.path(order)

    assert_saga(path, steps=["CompleteOrder", "SendNotification", "NotificationFailed",
                             "OrderCompleted"], not_entered=COMPENSATIONS,
                attempts={"SendNotification": 4}, status="SUCCEEDED")
    assert saga.final_item(order)["status"] == "COMPLETED"
    assert not [e for e in events_of(bus_events, order) if e["detail-type"] == "Notification Sent"]


def test_a_bad_order_gets_one_clear_line_and_starts_nothing(saga):
    body = saga.invoke_order_service({"customerId": "c-1", "items": [
        {"productId": "p", "quantity": 0, "price": 1}], "totalAmount": 1})
    assert body["statusCode"] == 400
    assert body["error"] == "invalid order: items.0.quantity: Input should be greater than 0"
