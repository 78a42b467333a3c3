"""Inventory service: reserve an order's items.

``{"orderId", "items"}`` -> ``{"status": "RESERVED", "reservationId"}`` and ``Inventory
Reserved`` on the bus, or ``{"status": "UNAVAILABLE", "reason"}`` and ``Inventory Unavailable``.
Availability is the seed's simulation: with probability ``INVENTORY_AVAILABILITY_RATE``
(default 0.95).
"""

from __future__ import annotations

from functions.order_saga.common import logger, publish, rate, stable_id, succeeds

RATE_VARIABLE = "INVENTORY_AVAILABILITY_RATE"
DEFAULT_RATE = 0.95


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    order_id = event.get("orderId")
    if not order_id:
        raise ValueError("inventory request without orderId: pass the order's id")
    items = event.get("items") or []
    if not succeeds(RATE_VARIABLE, DEFAULT_RATE):
        reason = (f"items unavailable (simulated: {RATE_VARIABLE}="
                  f"{rate(RATE_VARIABLE, DEFAULT_RATE)})")
        publish("Inventory Unavailable", {"orderId": order_id, "reason": reason})
        return {"status": "UNAVAILABLE", "reason": reason}
    reservation_id = stable_id("res", order_id)
    publish("Inventory Reserved", {"orderId": order_id, "reservationId": reservation_id,
                                   "items": items})
    return {"status": "RESERVED", "reservationId": reservation_id}
