"""Order Processor: store each order event the rule routes here in the events table.

The item is keyed by ``order_id`` and carries ``event_type`` (the event's detail-type) and
``timestamp`` (the event's time, ISO 8601 UTC), which the ``by_event_type`` index sorts by, plus
``status``, ``customer``, ``items``, ``event_id`` and ``source``. A redelivered event writes the
same item again.

An event that is not an order raises :class:`InvalidOrderEvent`: Lambda retries it, then puts it
on the function's dead-letter queue with that message as the reason.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from functools import lru_cache

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.order_events.models import OrderEvent, describe, iso

logger = Logger()


class InvalidOrderEvent(ValueError):
    """The event's detail is not an order."""


@lru_cache(maxsize=None)
def _table():
    return boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])


def item_of(order: OrderEvent) -> dict:
    """The table item for an order event (numbers as Decimal, as DynamoDB wants them)."""
    detail = order.detail
    item = {"order_id": detail.orderId, "event_type": order.detail_type,
            "timestamp": iso(order.time), "status": detail.status, "customer": detail.customer,
            "items": detail.items, "event_id": order.id, "source": order.source}
    return json.loads(json.dumps(item), parse_float=Decimal)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    try:
        order = parse(event=event, model=OrderEvent)
    except ValidationError as exc:
        problems = describe(exc)
        logger.error("not an order event",
                     extra={"problems": problems, "event_id": event.get("id")})
        raise InvalidOrderEvent(f"event {event.get('id')} is not an order: {problems}") from None
    item = item_of(order)
    _table().put_item(Item=item)
    logger.info("order stored", extra={"order_id": item["order_id"], "event_id": order.id,
                                       "event_type": item["event_type"]})
    return {"orderId": item["order_id"]}
