"""Order service: store a new order (``PENDING``) and publish ``Order Created`` to the bus.

Invoked directly (as in the seed) with ``{"customerId", "items": [{"productId", "quantity",
"price"}], "totalAmount"}``. Answers ``{"statusCode": 201, "orderId", "status": "PENDING"}``, or
``{"statusCode": 400, "error"}`` naming each bad field; a bad order is neither stored nor published.
The ``Order Created`` event starts the saga (a rule on the bus starts the state machine).
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from functions.order_saga.common import client, logger, now_iso, publish
from functions.order_saga.models import NewOrder, describe


def _dynamo_value(value: Any) -> dict:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {k: _dynamo_value(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"L": [_dynamo_value(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    try:
        order = NewOrder.model_validate(event if isinstance(event, dict) else {})
    except ValidationError as error:
        message = f"invalid order: {describe(error)}"
        logger.warning(message)
        return {"statusCode": 400, "error": message}
    order_id = str(uuid.uuid4())
    now = now_iso()
    record = {"orderId": order_id, "customerId": order.customerId,
              "items": [item.model_dump() for item in order.items],
              "totalAmount": order.totalAmount, "status": "PENDING",
              "createdAt": now, "updatedAt": now}
    item = {key: _dynamo_value(value) for key, value in record.items()}
    client("dynamodb").put_item(TableName=os.environ["ORDERS_TABLE"], Item=item,
                                ConditionExpression="attribute_not_exists(orderId)")
    publish("Order Created", {k: record[k] for k in
                              ("orderId", "customerId", "items", "totalAmount", "createdAt")})
    logger.info("order created", extra={"order_id": order_id})
    return {"statusCode": 201, "orderId": order_id, "status": "PENDING"}

