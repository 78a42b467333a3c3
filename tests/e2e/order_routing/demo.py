"""The order-routing demo scenario (``make demo``): the seed's sample events on the bus, followed.

Sends, one after the other, the seed's samples (stock, a notification, an order, its workflow,
its completion), a near miss, an event whose invocation fails, and a poison message on the
inventory queue; checks each ended where it should (routing through :class:`BusRoutes`, effects
in the tables, the topic, the state machine, the DLQ and the on-failure queue) and prints a table
and one summary line. Exit code 0 only when every event is where it should be.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from harness.deploy import CdkApp
from harness.dlq import DeadLetterQueue
from harness.localstack import LocalStack
from harness.probes import peek_messages
from harness.routing import BusRoutes
from harness.sns_log import SnsPublishLog
from harness.stepfunctions import wait_for_path, wait_for_started_execution
from harness.waits import EventuallyTimeout, eventually
from tests.e2e.apps import reference_app
from tests.e2e.order_routing.samples import (INVENTORY_UPDATED, NOTIFICATION_SENT,
                                             ORDER_COMPLETED, ORDER_CREATED, WORKFLOW_TRIGGERED,
                                             entry)

TITLE = "order routing (seed 001): EventBridge bus -> 3 processors + Step Functions, queues, DLQs"
#: queue retries 3 s apart and no async retries, so failures land within the demo's patience
DEMO_CONTEXT = {"retry_delay_seconds": "3", "async_retry_attempts": "0"}
DEADLINE_SECONDS = 45.0


def app() -> CdkApp:
    return reference_app("order_routing", DEMO_CONTEXT)


@dataclass
class Step:
    label: str
    expect: str
    run: Callable[[], str]  # returns what happened; raises AssertionError when it did not
    outcome: str = ""
    ok: bool = False
    seconds: float = 0.0


def scenario(localstack: LocalStack, deployed, out=print) -> int:
    o = deployed.outputs
    bus = o["EventBusName"]
    ddb, sfn, sqs = (localstack.client(s) for s in ("dynamodb", "stepfunctions", "sqs"))
    processors = {"orders": o["OrderProcessorFunctionName"],
                  "inventory": o["InventoryProcessorFunctionName"],
                  "notifications": o["NotificationProcessorFunctionName"],
                  "workflow": o["StateMachineArn"].rsplit(":", 1)[-1]}

    def item(table: str, key: str, value: str, check: Callable[[dict], bool]) -> dict:
        def read() -> dict:
            found = ddb.get_item(TableName=o[table], Key={key: {"S": value}}).get("Item")
            assert found is not None and check(found), f"{value} in {table}: {found}"
            return found
        return eventually(read, DEADLINE_SECONDS, description=f"{value} in {table}")

    with BusRoutes(localstack, bus) as routes:
        def routed(sample, rule: str) -> str:
            routes.assert_reaches(entry(bus, sample), {processors[rule]} if rule else set(),
                                  timeout=DEADLINE_SECONDS)
            return f"-> {rule or 'no rule'}"

        def stock() -> str:
            how = routed(INVENTORY_UPDATED, "inventory")
            found = item("InventoryTableName", "item_id", "ITEM-001",
                         lambda i: int(i["quantity"]["N"]) >= 100)
            return f"{how}; ITEM-001 quantity {found['quantity']['N']}"

        def notification() -> str:
            how = routed(NOTIFICATION_SENT, "notifications")
            published = eventually(lambda: SnsPublishLog(localstack).published(
                topic_arn=o["NotificationTopicArn"], contains="NOTIF-001"), DEADLINE_SECONDS)
            return f"{how}; published to the topic ({len(published)}x)"

        def order() -> str:
            how = routed(ORDER_CREATED, "orders")
            found = item("OrdersTableName", "order_id", "ORD-001", lambda i: "reservation" in i)
            return (f"{how}; ORD-001 {found['status']['S']}, stock "
                    f"{found['reservation']['S']} via inventory + order queues")

        def workflow() -> str:
            how = routed(WORKFLOW_TRIGGERED, "workflow")
            arn = wait_for_started_execution(sfn, o["StateMachineArn"], "WF-001",
                                             timeout=DEADLINE_SECONDS)
            path = wait_for_path(sfn, arn, timeout=DEADLINE_SECONDS).assert_status("SUCCEEDED")
            [parallel] = path.runs_of("ProcessOrderAndInventory")
            branches = " + ".join(b.states[0] for b in parallel.branches)
            return f"{how}; execution SUCCEEDED ({branches} in parallel)"

        def completed() -> str:
            how = routed(ORDER_COMPLETED, "orders")
            item("OrdersTableName", "order_id", "ORD-001", lambda i: i["status"]["S"] ==
                 "COMPLETED")
            return f"{how}; ORD-001 COMPLETED"

        def near_miss() -> str:
            return routed(("orders", "Order Shipped", ORDER_COMPLETED[2]), "")

        def failed_invocation() -> str:
            routed(("orders", "Order Completed", {"order_id": "ORD-404"}), "orders")

            def kept() -> dict:
                records = [json.loads(m["Body"]) for m in peek_messages(
                    sqs, o["AsyncFailureQueueUrl"])]
                [found] = [r for r in records if "ORD-404" in json.dumps(r["requestPayload"])]
                return found
            record = eventually(kept, DEADLINE_SECONDS, description="the failed invocation kept")
            return f"kept on failure: {record['responsePayload']['errorType']}"

        def poison() -> str:
            dlq = DeadLetterQueue(localstack, o["InventoryQueueUrl"])
            message_id, _ = dlq.inject()
            letter = dlq.wait_for(message_id, timeout=DEADLINE_SECONDS)
            reasons = eventually(lambda: dlq.reasons(o["InventoryProcessorFunctionName"],
                                                     message_id, "rejected message"),
                                 DEADLINE_SECONDS)
            reason = json.loads(reasons[0]).get("reason", "?") if reasons[0].startswith(
                "{") else reasons[0]
            return f"IN DLQ after {letter.receive_count} receives ({reason[:50]}...)"

        steps = [
            Step("inventory / Inventory Updated", "inventory processor", stock),
            Step("notifications / Notification Sent", "notification processor", notification),
            Step("orders / Order Created", "order processor", order),
            Step("workflow / Workflow Triggered", "state machine", workflow),
            Step("orders / Order Completed", "order processor", completed),
            Step("orders / Order Shipped (near miss)", "nothing", near_miss),
            Step("orders / Order Completed, unknown", "on-failure queue", failed_invocation),
            Step("inventory queue: poison message", "inventory DLQ", poison),
        ]
        for step in steps:
            started = time.monotonic()
            try:
                step.outcome, step.ok = step.run(), True
            except (AssertionError, EventuallyTimeout) as exc:
                step.outcome = f"NOT as expected: {str(exc).splitlines()[0][:80]}"
            step.seconds = time.monotonic() - started
    return report(steps, out)


def report(steps: list[Step], out=print) -> int:
    out(f"{'event':<38}{'should reach':<25}{'took':>8}  outcome")
    for s in steps:
        out(f"{s.label:<38}{s.expect:<25}{s.seconds * 1000:>6.0f}ms  {s.outcome}")
    bad = [s for s in steps if not s.ok]
    out(f"\n{len(steps) - len(bad)} of {len(steps)} events where they should be, "
        f"{len(bad)} not" + (f": {', '.join(s.label for s in bad)}" if bad else ""))
    return 1 if bad else 0
