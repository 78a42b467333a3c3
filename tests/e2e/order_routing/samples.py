"""The seed's sample events, verbatim (source, detail-type, detail), and helpers to vary them.

The seed has no ``Notification Sent`` sample; :data:`NOTIFICATION_SENT` is this app's shape.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

ORDER_CREATED = ("orders", "Order Created", {
    "order_id": "ORD-001",
    "customer_id": "CUST-001",
    "items": [
        {"item_id": "ITEM-001", "quantity": 2, "price": 29.99}
    ],
    "total": 59.98,
    "timestamp": "2024-01-15T10:00:00Z"
})
INVENTORY_UPDATED = ("inventory", "Inventory Updated", {
    "item_id": "ITEM-001",
    "quantity": 100,
    "action": "restock",
    "timestamp": "2024-01-15T10:00:00Z"
})
WORKFLOW_TRIGGERED = ("workflow", "Workflow Triggered", {
    "workflow_id": "WF-001",
    "order_id": "ORD-001",
    "timestamp": "2024-01-15T10:00:00Z"
})
NOTIFICATION_SENT = ("notifications", "Notification Sent", {
    "notification_id": "NOTIF-001",
    "recipient": "CUST-001",
    "message": "Your order ORD-001 has shipped",
    "timestamp": "2024-01-15T10:00:00Z"
})
ORDER_COMPLETED = ("orders", "Order Completed", {
    "order_id": "ORD-001",
    "timestamp": "2024-01-15T12:00:00Z"
})


def unique(sample: tuple[str, str, dict], **ids: str) -> tuple[str, str, dict]:
    """The sample with its ids made unique to one test run (``order_id="ORD-"`` appends a
    random suffix to that field; nested item ids likewise with ``item_id``)."""
    source, detail_type, detail = copy.deepcopy(sample)
    suffix = uuid.uuid4().hex[:8]
    for field, prefix in ids.items():
        if field in detail:
            detail[field] = f"{prefix}{suffix}"
        for item in detail.get("items", []):
            if field in item:
                item[field] = f"{prefix}{suffix}"
    return source, detail_type, detail


def entry(bus: str, sample: tuple[str, str, Any]) -> dict:
    """A PutEvents entry for ``sample`` on ``bus``."""
    source, detail_type, detail = sample
    return {"EventBusName": bus, "Source": source, "DetailType": detail_type,
            "Detail": detail if isinstance(detail, str) else json.dumps(detail)}
