"""How the order saga's tests, property tests, demo and benchmark talk to the deployed app."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from harness.stepfunctions import ExecutionPath, wait_for_path, wait_for_started_execution
from harness.taps import BusTap
from harness.waits import eventually

#: the seed's sample order (README "Test the Architecture")
SAMPLE_ITEMS = [{"productId": "prod-001", "quantity": 2, "price": 29.99},
                {"productId": "prod-002", "quantity": 1, "price": 49.99}]
SAMPLE_TOTAL = 109.97
FINAL_STATUSES = ("COMPLETED", "PAYMENT_FAILED", "CANCELLED")
#: the forward steps and the compensations, as assert_saga wants them
HAPPY_STEPS = ["ProcessPayment", "CheckPaymentStatus", "ReserveInventory", "CheckInventoryStatus",
               "CompleteOrder", "SendNotification", "OrderCompleted"]
COMPENSATIONS = ["RefundPayment", "CancelOrder"]
#: the execution's ending per final status: (execution status, its error)
ENDINGS = {"COMPLETED": ("SUCCEEDED", None), "PAYMENT_FAILED": ("FAILED", "PaymentFailed"),
           "CANCELLED": ("FAILED", "InventoryFailed")}


@dataclass
class PlacedOrder:
    order_id: str
    customer_id: str
    product_id: str


class SagaClient:
    """Place orders through the order service; follow them to their execution and table item."""

    def __init__(self, localstack, outputs: dict[str, str]):
        self.outputs = outputs
        self.lam = localstack.client("lambda")
        self.sfn = localstack.client("stepfunctions")
        self.ddb = localstack.client("dynamodb")
        self.machine = outputs["StateMachineArn"]
        self.table = outputs["OrdersTableName"]

    def invoke_order_service(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.lam.invoke(FunctionName=self.outputs["OrderServiceName"],
                                   Payload=json.dumps(payload).encode())
        body = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        return body

    def place_order(self, customer_id: str | None = None,
                    product_id: str | None = None) -> PlacedOrder:
        """The seed's sample order, with a customer and a first product of its own (so a test's
        faults can match this order's calls: ``when_contains=order.customer_id`` matches its
        charge and notifications, ``when_contains=order.product_id`` its reservation)."""
        customer_id = customer_id or f"customer-{uuid.uuid4().hex[:10]}"
        product_id = product_id or f"prod-{uuid.uuid4().hex[:10]}"
        items = [{**SAMPLE_ITEMS[0], "productId": product_id}, SAMPLE_ITEMS[1]]
        body = self.invoke_order_service({"customerId": customer_id, "items": items,
                                          "totalAmount": SAMPLE_TOTAL})
        assert body.get("statusCode") == 201, body
        return PlacedOrder(body["orderId"], customer_id, product_id)

    def path(self, order: PlacedOrder, timeout: float = 60) -> ExecutionPath:
        """The saga's execution for ``order``, once it ended."""
        arn = wait_for_started_execution(self.sfn, self.machine,
                                         lambda doc: doc.get("orderId") == order.order_id,
                                         timeout=timeout)
        return wait_for_path(self.sfn, arn, timeout=timeout)

    def executions_of(self, order: PlacedOrder) -> list[str]:
        arns = []
        for page in self.sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.machine):
            for execution in page["executions"]:
                doc = json.loads(self.sfn.describe_execution(
                    executionArn=execution["executionArn"]).get("input") or "{}")
                if doc.get("orderId") == order.order_id:
                    arns.append(execution["executionArn"])
        return arns

    def item(self, order: PlacedOrder) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, ConsistentRead=True, Key={
            "orderId": {"S": order.order_id}, "customerId": {"S": order.customer_id}}).get("Item")
        return None if item is None else {k: _plain(v) for k, v in item.items()}

    def final_item(self, order: PlacedOrder, timeout: float = 30) -> dict[str, Any]:
        def final() -> dict[str, Any]:
            item = self.item(order)
            assert item is not None, f"no item for order {order.order_id}"
            assert item["status"] in FINAL_STATUSES, f"status {item['status']}"
            return item

        return eventually(final, timeout, description=f"order {order.order_id} final status")


def _plain(value: dict) -> Any:
    (kind, raw), = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return Decimal(raw)
    if kind == "M":
        return {k: _plain(v) for k, v in raw.items()}
    if kind == "L":
        return [_plain(v) for v in raw]
    return raw


def events_of(tap: BusTap, order: PlacedOrder) -> list[dict[str, Any]]:
    """The bus events about ``order``, in the order the bus handled them."""
    return [e for e in tap.drain() if e.get("detail", {}).get("orderId") == order.order_id]


def wait_for_events(tap: BusTap, order: PlacedOrder, detail_types: list[str],
                    timeout: float = 30) -> list[dict[str, Any]]:
    """The order's events once every one of ``detail_types`` is among them."""
    def all_there() -> list[dict[str, Any]]:
        found = events_of(tap, order)
        seen = [e["detail-type"] for e in found]
        missing = [t for t in detail_types if t not in seen]
        assert not missing, f"missing {missing}; seen {seen}"
        return found

    return eventually(all_there, timeout, description=f"events of order {order.order_id}")
