"""The order processor: ``Order Created`` / ``Order Completed`` from the bus, reservation results
from the order queue, and the workflow's ``ProcessOrder`` step.

- ``Order Created``: the order is stored (``CREATED``), one reservation request for all its items
  goes to the inventory queue, and a notification to the topic. A second delivery of the same
  order (EventBridge delivers at least once) changes nothing and sends nothing; a different
  order under an id already taken fails the invocation (kept by the on-failure destination).
- ``Order Completed``: the order becomes ``COMPLETED`` and a notification is sent; an unknown
  order fails the invocation (kept by the on-failure destination, with the reason).
- Order queue: each reservation result is written on its order (``reservation``,
  ``reservation_reason``). A message that cannot be read fails alone (batch item failure), is
  retried by SQS and, after 3 receives, lands in the order DLQ; its reason is logged.
- Workflow step: the order's summary; an unknown order fails the step (``OrderNotFound``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (BatchProcessor, EventType,
                                                   process_partial_response)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.order_routing.common.aws import client, table
from functions.order_routing.common.events import InvalidEvent, kind_of, parse, parse_body
from functions.order_routing.common.models import (OrderCompleted, OrderConflict, OrderCreated,
                                                   OrderNotFound,
                                                   ReservationRequest, ReservationResult,
                                                   WorkflowStep)
from functions.order_routing.common.records import log_rejected

logger = Logger()
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _orders():
    return table("ORDERS_TABLE")


def _notify(order_id: str, status: str, **fields: Any) -> None:
    client("sns").publish(TopicArn=os.environ["NOTIFICATION_TOPIC_ARN"],
                          Message=json.dumps({"order_id": order_id, "status": status, **fields},
                                             default=str))


def order_created(order: OrderCreated) -> str:
    item = {"order_id": order.order_id, "status": "CREATED", "customer_id": order.customer_id,
            "items": [i.model_dump() for i in order.items], "total": order.total}
    if order.timestamp:
        item["created_at"] = order.timestamp
    try:
        _orders().put_item(Item=item, ConditionExpression="attribute_not_exists(order_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        stored = _orders().get_item(Key={"order_id": order.order_id}).get("Item") or {}
        if {k: stored.get(k) for k in ("customer_id", "items", "total")} != {
                k: item[k] for k in ("customer_id", "items", "total")}:
            raise OrderConflict(f"Order Created for {order.order_id!r} differs from the order "
                                "stored under that id: give the new order an id of its own")
        logger.info("order already stored; duplicate ignored", extra={"order_id": order.order_id})
        return "DUPLICATE"
    request = ReservationRequest(order_id=order.order_id, items=order.items)
    client("sqs").send_message(QueueUrl=os.environ["INVENTORY_QUEUE_URL"],
                               MessageBody=request.model_dump_json())
    _notify(order.order_id, "CREATED", customer_id=order.customer_id, total=str(order.total))
    logger.info("order created", extra={"order_id": order.order_id})
    return "CREATED"


def order_completed(order: OrderCompleted) -> str:
    try:
        _orders().update_item(
            Key={"order_id": order.order_id}, ConditionExpression="attribute_exists(order_id)",
            UpdateExpression="SET #status = :completed" + (", completed_at = :at"
                                                           if order.timestamp else ""),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":completed": "COMPLETED",
                                       **({":at": order.timestamp} if order.timestamp else {})})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise OrderNotFound(f"Order Completed for order {order.order_id!r}, which the orders "
                            "table does not hold: send its Order Created first") from None
    _notify(order.order_id, "COMPLETED")
    logger.info("order completed", extra={"order_id": order.order_id})
    return "COMPLETED"


def reservation_result(result: ReservationResult) -> None:
    try:
        _orders().update_item(
            Key={"order_id": result.order_id}, ConditionExpression="attribute_exists(order_id)",
            UpdateExpression="SET reservation = :r, reservation_reason = :why",
            ExpressionAttributeValues={":r": result.reservation, ":why": result.reason})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise OrderNotFound(f"reservation result for unknown order {result.order_id!r}") from None
    logger.info("reservation recorded", extra={"order_id": result.order_id,
                                               "reservation": result.reservation,
                                               "reason": result.reason})


def record_handler(record: SQSRecord) -> None:
    try:
        result = parse_body(ReservationResult, record.body, "order queue message")
    except InvalidEvent as exc:
        log_rejected(logger, record, str(exc))
        raise
    reservation_result(result)


def workflow_step(step: WorkflowStep) -> dict:
    order = _orders().get_item(Key={"order_id": step.order_id}).get("Item")
    if order is None:
        raise OrderNotFound(f"workflow {step.workflow_id}: order {step.order_id!r} is not in the "
                            "orders table")
    return {"order_id": step.order_id, "status": order["status"], "total": str(order["total"]),
            "reservation": order.get("reservation", "PENDING")}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> Any:
    kind = kind_of(event)
    if kind == "sqs":
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=batch, context=context)
    if kind == "workflow":
        return workflow_step(parse(WorkflowStep, event, "workflow step"))
    detail_type = event["detail-type"]
    logger.append_keys(event_id=event.get("id"), detail_type=detail_type)
    if detail_type == "Order Created":
        return {"status": order_created(parse(OrderCreated, event.get("detail"),
                                              "Order Created event"))}
    if detail_type == "Order Completed":
        return {"status": order_completed(parse(OrderCompleted, event.get("detail"),
                                                "Order Completed event"))}
    raise InvalidEvent(f"the order processor handles Order Created and Order Completed, not "
                       f"{detail_type!r}: check the orders rule's pattern")
