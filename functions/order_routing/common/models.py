"""The events the bus carries (their ``detail``), the queue messages, and the workflow step input.

Field names are the seed's. Each model rejects what a processor cannot act on, so bad input fails
at the door with a message that names the field.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=256)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrderItem(_Model):
    item_id: Id
    quantity: Annotated[int, Field(gt=0)]
    price: Annotated[Decimal, Field(ge=0)] = Decimal(0)


class OrderCreated(_Model):
    """``orders`` / ``Order Created``."""

    order_id: Id
    customer_id: Id
    items: Annotated[list[OrderItem], Field(min_length=1)]
    total: Annotated[Decimal, Field(ge=0)]
    timestamp: str | None = None


class OrderCompleted(_Model):
    """``orders`` / ``Order Completed``."""

    order_id: Id
    timestamp: str | None = None


class InventoryAction(str, Enum):
    RESTOCK = "restock"   # quantity more in stock
    RESERVE = "reserve"   # quantity taken from stock; never below zero
    RELEASE = "release"   # a reservation given back
    SET = "set"           # stock counted: quantity is the new level


class InventoryUpdated(_Model):
    """``inventory`` / ``Inventory Updated``."""

    item_id: Id
    quantity: Annotated[int, Field(ge=0)]
    action: InventoryAction
    timestamp: str | None = None


class NotificationSent(_Model):
    """``notifications`` / ``Notification Sent`` (the seed has no sample; this is its shape here)."""

    notification_id: Id
    message: Annotated[str, Field(min_length=1, max_length=200_000)]
    recipient: str | None = None
    timestamp: str | None = None


class ReservationRequest(_Model):
    """On the inventory queue: reserve every item of an order, or none."""

    kind: Literal["reservation_request"] = "reservation_request"
    order_id: Id
    items: Annotated[list[OrderItem], Field(min_length=1)]


class ReservationResult(_Model):
    """On the order queue: what the inventory answered."""

    kind: Literal["reservation_result"] = "reservation_result"
    order_id: Id
    reservation: Literal["RESERVED", "REJECTED"]
    reason: str = ""


class WorkflowStep(_Model):
    """What the state machine passes to a processor."""

    workflow_id: Id
    order_id: Id


class OrderNotFound(Exception):
    """The event or workflow names an order the orders table does not hold."""


class OrderConflict(Exception):
    """An Order Created whose id is taken by a different order."""


class ReservationRejected(Exception):
    """A reserve beyond stock (the message says which item, how many asked, how many held)."""
