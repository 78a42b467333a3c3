"""The workflow: a ``Workflow Triggered`` event runs order and inventory processing side by side;
a failing branch fails the execution in a state that names it."""

from __future__ import annotations

from harness.faults import Fault
from harness.probes import wait_for_item
from harness.stepfunctions import wait_for_path, wait_for_started_execution
from tests.e2e.order_routing.samples import (INVENTORY_UPDATED, ORDER_CREATED, WORKFLOW_TRIGGERED,
                                             entry, unique)

BRANCHES = ["ProcessOrder", "ProcessInventory"]


def stored_order(localstack, outputs) -> str:
    """A fresh order (its own item, stocked first), stored and reserved; its id."""
    ddb, events = localstack.client("dynamodb"), localstack.client("events")
    bus = outputs["EventBusName"]
    stock = unique(INVENTORY_UPDATED, item_id="ITEM-WF-")
    order = unique(ORDER_CREATED, order_id="ORD-WF-")
    order[2]["items"][0]["item_id"] = stock[2]["item_id"]
    events.put_events(Entries=[entry(bus, stock)])
    wait_for_item(ddb, outputs["InventoryTableName"], {"item_id": {"S": stock[2]["item_id"]}})
    events.put_events(Entries=[entry(bus, order)])
    wait_for_item(ddb, outputs["OrdersTableName"], {"order_id": {"S": order[2]["order_id"]}},
                  lambda item: "reservation" in item)
    return order[2]["order_id"]


def trigger(localstack, outputs, order_id: str) -> str:
    """Put a Workflow Triggered event for the order; the ARN of the execution it started."""
    workflow = unique(WORKFLOW_TRIGGERED, workflow_id="WF-")
    workflow[2]["order_id"] = order_id
    localstack.client("events").put_events(Entries=[entry(outputs["EventBusName"], workflow)])
    return wait_for_started_execution(
        localstack.client("stepfunctions"), outputs["StateMachineArn"],
        lambda doc: doc["detail"]["workflow_id"] == workflow[2]["workflow_id"])


def test_a_workflow_runs_both_branches_and_succeeds(localstack, outputs):
    order_id = stored_order(localstack, outputs)
    path = wait_for_path(localstack.client("stepfunctions"), trigger(localstack, outputs,
                                                                     order_id))
    path.assert_status("SUCCEEDED").assert_states(["ProcessOrderAndInventory", "WorkflowDone"])
    [parallel] = path.runs_of("ProcessOrderAndInventory")
    assert sorted(b.states[0] for b in parallel.branches) == sorted(BRANCHES), path
    for branch in parallel.branches:
        branch.assert_attempts(**{branch.states[0]: 1})
        assert branch.runs[0].exited, path
    assert path.output["order"] == {"order_id": order_id, "status": "CREATED", "total": "59.98",
                                    "reservation": "RESERVED"}
    assert path.output["inventory"]["available"] is True  # 98 of 100 left, 2 asked


def test_a_throttled_branch_is_retried_then_fails_naming_the_branch(localstack, outputs):
    """A transient Lambda error (the order processor throttled: reserved concurrency 0) is
    retried by the state machine (3 retries, backoff 2) before the branch fails; Step Functions
    time runs 100x faster (harness.stepfunctions.time_scale) so the backoff costs ms."""
    from harness.stepfunctions import time_scale

    order_id = stored_order(localstack, outputs)
    lam = localstack.client("lambda")
    function = outputs["OrderProcessorFunctionName"]
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    try:
        with time_scale(localstack, 0.01):
            path = wait_for_path(localstack.client("stepfunctions"),
                                 trigger(localstack, outputs, order_id))
    finally:
        lam.delete_function_concurrency(FunctionName=function)
    path.assert_status("FAILED")
    assert path.error == "OrderProcessingFailed", path
    [parallel] = path.runs_of("ProcessOrderAndInventory")
    [failed] = [b for b in parallel.branches if b.ran("OrderProcessingFailed")]
    failed.assert_attempts(ProcessOrder=4)  # the first call and 3 retries
    assert {e["error"] for e in failed.runs[0].errors} == {"Lambda.TooManyRequestsException"}, path


# Last in this file on purpose: right after lambda_faults restores a function's configuration,
# LocalStack may hold an asynchronous invocation of it for the function's timeout + 60 s (see
# docs/localstack-divergences.md, "Lambda (async invocations after an update)").
def test_a_failing_branch_fails_the_execution_naming_the_branch(localstack, outputs,
                                                                lambda_faults):
    order_id = stored_order(localstack, outputs)
    lambda_faults.inject(outputs["InventoryProcessorFunctionName"],
                         Fault.raise_error("inventory service down", when_contains=order_id))
    path = wait_for_path(localstack.client("stepfunctions"), trigger(localstack, outputs,
                                                                     order_id))
    path.assert_status("FAILED")
    assert path.error == "InventoryProcessingFailed", path
    assert "inventory service down" in path.cause, path
    [parallel] = path.runs_of("ProcessOrderAndInventory")
    failed = [b for b in parallel.branches if b.ran("InventoryProcessingFailed")]
    assert len(failed) == 1 and failed[0].states == ["ProcessInventory",
                                                     "InventoryProcessingFailed"], path
    assert failed[0].attempts("ProcessInventory") == 1  # a function error is not retried
    assert "inventory service down" in path.describe()
