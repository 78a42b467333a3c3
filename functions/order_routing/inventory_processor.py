"""The inventory processor: ``Inventory Updated`` from the bus, reservation requests from the
inventory queue, and the workflow's ``ProcessInventory`` step. Stock never goes below zero.

- ``Inventory Updated``: ``restock`` adds ``quantity``, ``release`` gives a reservation back,
  ``set`` records a count, ``reserve`` takes ``quantity`` if that much is in stock. A reserve
  beyond stock is rejected: the invocation fails with the reason (item, asked, in stock), so the
  on-failure destination keeps the event and says why.
- Inventory queue: a reservation request takes every item of its order or none (one DynamoDB
  transaction, with a marker item ``reservation#<order_id>`` so a second delivery reserves
  nothing twice) and the answer goes to the order queue: ``RESERVED``, or ``REJECTED`` with the
  reason. A message that cannot be read fails alone, is retried, and after 3 receives lands in
  the inventory DLQ; its reason is logged.
- Workflow step: how much of each of the order's items is in stock.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (BatchProcessor, EventType,
                                                   process_partial_response)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.order_routing.common.aws import client, table
from functions.order_routing.common.events import InvalidEvent, kind_of, parse, parse_body
from functions.order_routing.common.models import (InventoryAction, InventoryUpdated,
                                                   OrderNotFound, ReservationRejected,
                                                   ReservationRequest, ReservationResult,
                                                   WorkflowStep)
from functions.order_routing.common.records import log_rejected

logger = Logger()
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
#: DynamoDB's limit on one transaction (the marker item takes one)
MAX_ITEMS_PER_RESERVATION = 99


def _inventory():
    return table("INVENTORY_TABLE")


def in_stock(item_id: str) -> int:
    item = _inventory().get_item(Key={"item_id": item_id}).get("Item")
    return int(item["quantity"]) if item else 0


def apply_update(update: InventoryUpdated) -> int:
    """Apply one action; return the item's new quantity."""
    key = {"item_id": update.item_id}
    q = update.quantity
    if update.action is InventoryAction.SET:
        kwargs = dict(UpdateExpression="SET quantity = :q", ExpressionAttributeValues={":q": q})
    elif update.action in (InventoryAction.RESTOCK, InventoryAction.RELEASE):
        kwargs = dict(UpdateExpression="ADD quantity :q", ExpressionAttributeValues={":q": q})
    else:
        kwargs = dict(UpdateExpression="SET quantity = quantity - :q",
                      ConditionExpression="quantity >= :q", ExpressionAttributeValues={":q": q})
    try:
        new = _inventory().update_item(Key=key, ReturnValues="UPDATED_NEW", **kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise ReservationRejected(
            f"reserve of {q} x {update.item_id} rejected: only {in_stock(update.item_id)} in "
            "stock (restock first, or reserve less)") from None
    quantity = int(new["Attributes"]["quantity"])
    logger.info("inventory updated", extra={"item_id": update.item_id,
                                            "action": update.action.value, "quantity": quantity})
    return quantity


def reserve_order(request: ReservationRequest) -> ReservationResult:
    """Reserve every item of the order or none; the marker makes a redelivery a no-op."""
    wanted = Counter()
    for item in request.items:
        wanted[item.item_id] += item.quantity
    if len(wanted) > MAX_ITEMS_PER_RESERVATION:
        return ReservationResult(order_id=request.order_id, reservation="REJECTED",
                                 reason=f"{len(wanted)} different items; at most "
                                        f"{MAX_ITEMS_PER_RESERVATION} per order")
    name = os.environ["INVENTORY_TABLE"]
    marker = f"reservation#{request.order_id}"
    actions = [{"Put": {"TableName": name, "Item": {"item_id": {"S": marker},
                                                    "order_id": {"S": request.order_id}},
                        "ConditionExpression": "attribute_not_exists(item_id)"}}]
    actions += [{"Update": {
        "TableName": name, "Key": {"item_id": {"S": item_id}},
        "UpdateExpression": "SET quantity = quantity - :q",
        "ConditionExpression": "quantity >= :q",
        "ExpressionAttributeValues": {":q": {"N": str(q)}}}} for item_id, q in wanted.items()]
    try:
        client("dynamodb").transact_write_items(TransactItems=actions)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            logger.info("order already reserved; duplicate ignored",
                        extra={"order_id": request.order_id})
            return ReservationResult(order_id=request.order_id, reservation="RESERVED",
                                     reason="already reserved")
        short = [f"{item_id}: {q} asked, {in_stock(item_id)} in stock"
                 for item_id, q in wanted.items() if in_stock(item_id) < q]
        return ReservationResult(order_id=request.order_id, reservation="REJECTED",
                                 reason="not enough stock for " + "; ".join(short))
    return ReservationResult(order_id=request.order_id, reservation="RESERVED")


def record_handler(record: SQSRecord) -> None:
    try:
        request = parse_body(ReservationRequest, record.body, "inventory queue message")
    except InvalidEvent as exc:
        log_rejected(logger, record, str(exc))
        raise
    result = reserve_order(request)
    client("sqs").send_message(QueueUrl=os.environ["ORDER_QUEUE_URL"],
                               MessageBody=result.model_dump_json())
    log = logger.info if result.reservation == "RESERVED" else logger.warning
    log("reservation " + result.reservation.lower(),
        extra={"order_id": request.order_id, "reason": result.reason})


def workflow_step(step: WorkflowStep) -> dict:
    order = table("ORDERS_TABLE").get_item(Key={"order_id": step.order_id}).get("Item")
    if order is None:
        raise OrderNotFound(f"workflow {step.workflow_id}: order {step.order_id!r} is not in the "
                            "orders table")
    items = [{"item_id": i["item_id"], "asked": int(i["quantity"]),
              "in_stock": in_stock(i["item_id"])} for i in order["items"]]
    return {"order_id": step.order_id, "items": items,
            "available": all(i["in_stock"] >= i["asked"] for i in items)}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> Any:
    kind = kind_of(event)
    if kind == "sqs":
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=batch, context=context)
    if kind == "workflow":
        return workflow_step(parse(WorkflowStep, event, "workflow step"))
    logger.append_keys(event_id=event.get("id"), detail_type=event["detail-type"])
    if event["detail-type"] != "Inventory Updated":
        raise InvalidEvent(f"the inventory processor handles Inventory Updated, not "
                           f"{event['detail-type']!r}: check the inventory rule's pattern")
    update = parse(InventoryUpdated, event.get("detail"), "Inventory Updated event")
    return {"item_id": update.item_id, "quantity": apply_update(update)}
