"""The four services' handlers (moto): what each stores, answers and publishes, and how bad
input is told."""

from __future__ import annotations

from decimal import Decimal

import pytest

ORDER = {"customerId": "customer-123", "totalAmount": 109.97, "items": [
    {"productId": "prod-001", "quantity": 2, "price": 29.99},
    {"productId": "prod-002", "quantity": 1, "price": 49.99}]}


def test_an_order_is_stored_pending_and_announced(handlers, saga_aws, context):
    answer = handlers.order_service.handler(ORDER, context)

    assert answer["statusCode"] == 201 and answer["status"] == "PENDING"
    item = saga_aws.item(answer["orderId"], "customer-123")
    assert item["status"] == "PENDING" and item["totalAmount"] == Decimal("109.97")
    assert item["items"][0] == {"productId": "prod-001", "quantity": 2, "price": Decimal("29.99")}
    assert item["createdAt"] == item["updatedAt"]
    event, = saga_aws.events()
    assert event["detail-type"] == "Order Created" and event["orderId"] == answer["orderId"]


@pytest.mark.parametrize("order, message", [
    ({**ORDER, "items": []}, "items: List should have at least 1 item after validation, not 0"),
    ({**ORDER, "totalAmount": -1}, "totalAmount: Input should be greater than 0"),
    ({k: v for k, v in ORDER.items() if k != "customerId"}, "customerId: Field required"),
])
def test_a_bad_order_is_one_line_naming_the_field_and_nothing_else(handlers, saga_aws, context,
                                                                   order, message):
    answer = handlers.order_service.handler(order, context)
    assert answer == {"statusCode": 400, "error": f"invalid order: {message}"}
    assert saga_aws.events() == []
    assert saga_aws.dynamodb.scan(TableName="orders")["Count"] == 0


def test_a_charge_succeeds_with_an_id_stable_per_order(handlers, saga_aws, context):
    request = {"action": "charge", "orderId": "o-1", "customerId": "c", "amount": "10"}
    first = handlers.payment_service.handler(request, context)
    again = handlers.payment_service.handler(request, context)
    assert first["status"] == "SUCCESS" and first == again
    assert [e["detail-type"] for e in saga_aws.events()] == ["Payment Processed"] * 2


def test_a_charge_is_declined_as_the_rate_says(handlers, saga_aws, context, monkeypatch):
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "0")
    answer = handlers.payment_service.handler({"orderId": "o-2"}, context)
    assert answer["status"] == "FAILED" and "PAYMENT_SUCCESS_RATE=0.0" in answer["reason"]
    assert [e["detail-type"] for e in saga_aws.events()] == ["Payment Failed"]


def test_a_refund_matches_the_payment(handlers, saga_aws, context):
    paid = handlers.payment_service.handler({"orderId": "o-3"}, context)
    refund = handlers.payment_service.handler(
        {"action": "refund", "orderId": "o-3", "paymentId": paid["paymentId"]}, context)
    assert refund["status"] == "REFUNDED" and refund["paymentId"] == paid["paymentId"]
    events = saga_aws.events()
    assert events[-1]["detail-type"] == "Payment Refunded"
    assert events[-1]["refundId"] == refund["refundId"]


@pytest.mark.parametrize("request_, message", [
    ({"action": "steal", "orderId": "o"}, "unknown payment action 'steal'"),
    ({"action": "charge"}, "payment request without orderId"),
    ({"action": "refund", "orderId": "o"}, "refund for order o has no paymentId"),
])
def test_bad_payment_requests_raise_one_clear_line(handlers, context, request_, message):
    with pytest.raises(ValueError, match=message):
        handlers.payment_service.handler(request_, context)


def test_a_bad_rate_names_the_variable(handlers, context, monkeypatch):
    monkeypatch.setenv("INVENTORY_AVAILABILITY_RATE", "lots")
    with pytest.raises(ValueError, match="INVENTORY_AVAILABILITY_RATE='lots' is not a number"):
        handlers.inventory_service.handler({"orderId": "o"}, context)
    monkeypatch.setenv("INVENTORY_AVAILABILITY_RATE", "2")
    with pytest.raises(ValueError, match="out of range: set it between 0 and 1"):
        handlers.inventory_service.handler({"orderId": "o"}, context)


def test_inventory_reserves_or_reports_unavailable(handlers, saga_aws, context, monkeypatch):
    assert handlers.inventory_service.handler({"orderId": "o", "items": []},
                                              context)["status"] == "RESERVED"
    monkeypatch.setenv("INVENTORY_AVAILABILITY_RATE", "0")
    assert handlers.inventory_service.handler({"orderId": "o"}, context)["status"] == "UNAVAILABLE"
    assert [e["detail-type"] for e in saga_aws.events()] == ["Inventory Reserved",
                                                             "Inventory Unavailable"]


def test_a_notification_is_sent_per_kind(handlers, saga_aws, context):
    answer = handlers.notification_service.handler(
        {"orderId": "o", "customerId": "c", "kind": "ORDER_CANCELLED"}, context)
    assert answer == {"status": "SENT", "kind": "ORDER_CANCELLED"}
    event, = saga_aws.events()
    assert event["detail-type"] == "Notification Sent" and "refunded" in event["message"]
    with pytest.raises(ValueError, match="unknown notification kind 'SHOUT'"):
        handlers.notification_service.handler({"orderId": "o", "kind": "SHOUT"}, context)
