"""Payment service: charge an order, or refund a charge (the saga's compensation).

``{"action": "charge", "orderId", "customerId", "amount"}`` -> ``{"status": "SUCCESS",
"paymentId"}`` and ``Payment Processed`` on the bus, or ``{"status": "FAILED", "reason"}`` and
``Payment Failed``. Whether a charge succeeds is the seed's simulation: with probability
``PAYMENT_SUCCESS_RATE`` (default 0.9).

``{"action": "refund", "orderId", "paymentId", "amount"}`` -> ``{"status": "REFUNDED",
"refundId"}`` and ``Payment Refunded``. A refund always succeeds.

Ids are derived from the order, so a retried attempt publishes the same ids (no double charge).
"""

from __future__ import annotations

from functions.order_saga.common import logger, publish, rate, stable_id, succeeds

RATE_VARIABLE = "PAYMENT_SUCCESS_RATE"
DEFAULT_RATE = 0.9


def charge(event: dict) -> dict:
    order_id = event["orderId"]
    if not succeeds(RATE_VARIABLE, DEFAULT_RATE):
        reason = (f"payment declined (simulated: {RATE_VARIABLE}="
                  f"{rate(RATE_VARIABLE, DEFAULT_RATE)})")
        publish("Payment Failed", {"orderId": order_id, "reason": reason})
        return {"status": "FAILED", "reason": reason}
    payment_id = stable_id("pay", order_id)
    publish("Payment Processed", {"orderId": order_id, "paymentId": payment_id,
                                  "customerId": event.get("customerId"),
                                  "amount": event.get("amount")})
    return {"status": "SUCCESS", "paymentId": payment_id}


def refund(event: dict) -> dict:
    order_id, payment_id = event["orderId"], event.get("paymentId")
    if not payment_id:
        raise ValueError(f"refund for order {order_id} has no paymentId: pass the charge's "
                         "paymentId")
    refund_id = stable_id("ref", order_id)
    publish("Payment Refunded", {"orderId": order_id, "paymentId": payment_id,
                                 "refundId": refund_id, "amount": event.get("amount")})
    return {"status": "REFUNDED", "refundId": refund_id, "paymentId": payment_id}


ACTIONS = {"charge": charge, "refund": refund}


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    action = event.get("action", "charge")
    if action not in ACTIONS:
        raise ValueError(f"unknown payment action {action!r}: use one of {sorted(ACTIONS)}")
    if not event.get("orderId"):
        raise ValueError("payment request without orderId: pass the order's id")
    return ACTIONS[action](event)
