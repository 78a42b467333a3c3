"""Each event type of the seed (its sample events verbatim) reaches exactly its processor and
that processor's table or topic; near misses reach nothing."""

from __future__ import annotations

import json

import pytest

from harness.probes import wait_for_item
from harness.stepfunctions import wait_for_path, wait_for_started_execution
from tests.e2e.order_routing.samples import (INVENTORY_UPDATED, NOTIFICATION_SENT,
                                             ORDER_COMPLETED, ORDER_CREATED, WORKFLOW_TRIGGERED,
                                             entry)


def test_the_seeds_samples_reach_their_processors_and_tables(localstack, outputs, routes,
                                                             processors, notifications):
    """In the order a shop would send them: stock, a notification, the order (which reserves its
    stock through the two queues), the workflow for that order, its completion."""
    ddb, sfn = localstack.client("dynamodb"), localstack.client("stepfunctions")
    bus = outputs["EventBusName"]
    routes.assert_routes([(entry(bus, INVENTORY_UPDATED), {processors["inventory"]}),
                          (entry(bus, NOTIFICATION_SENT), {processors["notifications"]})])
    wait_for_item(ddb, outputs["InventoryTableName"], {"item_id": {"S": "ITEM-001"}},
                  lambda item: int(item["quantity"]["N"]) >= 100)
    [published] = notifications.wait_for(lambda body: "NOTIF-001" in body)
    assert json.loads(published) == NOTIFICATION_SENT[2]

    routes.assert_reaches(entry(bus, ORDER_CREATED), {processors["orders"]})
    order = wait_for_item(ddb, outputs["OrdersTableName"], {"order_id": {"S": "ORD-001"}},
                          lambda item: "reservation" in item)
    assert (order["status"]["S"], order["customer_id"]["S"], order["total"]["N"]) == (
        "CREATED", "CUST-001", "59.98")
    assert order["reservation"]["S"] == "RESERVED", order
    notifications.wait_for(lambda body: '"ORD-001"' in body and '"CREATED"' in body)

    routes.assert_reaches(entry(bus, WORKFLOW_TRIGGERED), {processors["workflow"]})
    arn = wait_for_started_execution(sfn, outputs["StateMachineArn"],
                                     lambda doc: doc["detail"]["workflow_id"] == "WF-001")
    path = wait_for_path(sfn, arn).assert_status("SUCCEEDED")
    assert path.output["order"]["reservation"] == "RESERVED"

    routes.assert_reaches(entry(bus, ORDER_COMPLETED), {processors["orders"]})
    wait_for_item(ddb, outputs["OrdersTableName"], {"order_id": {"S": "ORD-001"}},
                  lambda item: item["status"]["S"] == "COMPLETED")


NEAR_MISSES = [
    ("orders", "Order Shipped"),          # right source, wrong detail-type
    ("orders", "order created"),          # case matters
    ("orders", "Order Created "),         # so does a trailing space
    ("order", "Order Created"),           # right detail-type, wrong source
    ("inventory", "Order Created"),       # a source and a detail-type of two different rules
    ("notifications", "Inventory Updated"),
    ("workflow", "Workflow Started"),
    ("Workflow", "Workflow Triggered"),
]


def test_near_misses_reach_nothing(outputs, routes):
    bus = outputs["EventBusName"]
    cases = [(entry(bus, (source, detail_type, {"order_id": "ORD-NEAR", "item_id": "ITEM-NEAR",
                                                 "workflow_id": "WF-NEAR"})), set())
             for source, detail_type in NEAR_MISSES]
    routes.assert_routes(cases, quiet=1.5)


@pytest.mark.parametrize("rule", ["orders", "inventory", "notifications", "workflow"])
def test_each_rule_has_exactly_the_target_the_seed_names(routes, processors, rule):
    [name] = [n for n, targets in routes.targets.items()
              if any(t.endswith(processors[rule]) for t in targets)]
    assert [t.rsplit(":", 1)[-1] for t in routes.targets[name]] == [processors[rule]]
