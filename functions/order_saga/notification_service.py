"""Notification service: tell the customer how their order ended (here: a log line and a
``Notification Sent`` event on the bus).

``{"orderId", "customerId", "kind"}``, ``kind`` one of ``ORDER_COMPLETED``, ``PAYMENT_FAILED``,
``ORDER_CANCELLED`` -> ``{"status": "SENT"}``.
"""

from __future__ import annotations

from functions.order_saga.common import logger, publish

MESSAGES = {
    "ORDER_COMPLETED": "Your order is confirmed and on its way.",
    "PAYMENT_FAILED": "Your payment could not be processed; the order was not placed.",
    "ORDER_CANCELLED": "Items were unavailable: your order was cancelled and your payment refunded.",
}


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    kind, order_id = event.get("kind"), event.get("orderId")
    if kind not in MESSAGES:
        raise ValueError(f"unknown notification kind {kind!r}: use one of {sorted(MESSAGES)}")
    if not order_id:
        raise ValueError("notification without orderId: pass the order's id")
    logger.info("notification", extra={"order_id": order_id, "kind": kind,
                                       "customer_id": event.get("customerId")})
    publish("Notification Sent", {"orderId": order_id, "customerId": event.get("customerId"),
                                  "kind": kind, "message": MESSAGES[kind]})
    return {"status": "SENT", "kind": kind}
