"""The shapes the order-events functions read: the publisher's request and the order event."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class Item(BaseModel):
    """One line of an order; fields beyond ``id`` and ``quantity`` (a price, ...) pass through."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: Text
    quantity: int = Field(gt=0)


class PublishRequest(BaseModel):
    """What the publisher is invoked with: the order, plus how to label its event."""

    model_config = ConfigDict(extra="allow", strict=True)

    orderId: Text
    customer: Text
    items: list[Item] = Field(min_length=1)
    status: Text = "PLACED"
    detailType: Text = "order_placed"

    def detail(self) -> dict[str, Any]:
        """The event's detail: the order as given (extra fields too) with its ``status``."""
        order = self.model_dump(mode="json", exclude={"status", "detailType"})
        return {**order, "status": self.status}


class OrderDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    orderId: Text
    customer: Text
    items: list[dict[str, Any]]
    status: Text


class OrderEvent(EventBridgeModel):
    """An order event as the rule delivers it (EventBridge's envelope)."""

    detail: OrderDetail


def describe(exc: ValidationError) -> str:
    """Every problem on one line: ``field.path: message; ...``."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
                     for err in exc.errors(include_url=False))


def iso(moment: datetime) -> str:
    """``moment`` in UTC as ISO 8601 with milliseconds and ``Z`` (sorts as text)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"))
