"""Event Publisher: put an order event on the bus and return its EventBridge event id.

Invoked with the order (``{"orderId", "customer", "items": [{"id", "quantity"}, ...]}``) plus
optional ``status`` (default ``PLACED``) and ``detailType`` (default ``order_placed``); puts
``source`` = ``$EVENT_SOURCE``, ``detail-type`` = detailType, ``detail`` = the order with its
status, on ``$EVENT_BUS_NAME``; returns ``{"eventId": ...}``.

Bad input raises :class:`InvalidOrderRequest` naming every bad field, and nothing is put on the
bus; an entry EventBridge refuses raises :class:`PublishFailed` with its error code.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.order_events.models import PublishRequest, describe

logger = Logger()


class InvalidOrderRequest(ValueError):
    """The invocation's payload is not an order this function can publish."""


class PublishFailed(RuntimeError):
    """EventBridge did not accept the event."""


@lru_cache(maxsize=None)
def _events():
    return boto3.client("events")


def publish(request: PublishRequest) -> str:
    """Put the order's event on the bus; its event id."""
    entry = {"EventBusName": os.environ["EVENT_BUS_NAME"], "Source": os.environ["EVENT_SOURCE"],
             "DetailType": request.detailType, "Detail": json.dumps(request.detail())}
    [result] = _events().put_events(Entries=[entry])["Entries"]
    if "EventId" not in result or result.get("ErrorCode"):
        raise PublishFailed(f"EventBridge refused order {request.orderId}'s event: "
                            f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}")
    return result["EventId"]


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    try:
        request = parse(event=event, model=PublishRequest)
    except ValidationError as exc:
        problems = describe(exc)
        logger.info("invalid order request", extra={"problems": problems})
        raise InvalidOrderRequest(f"invalid order request, nothing published: {problems}") from None
    event_id = publish(request)
    logger.info("order event published", extra={
        "order_id": request.orderId, "event_id": event_id, "detail_type": request.detailType,
        "status": request.status})
    return {"eventId": event_id}
