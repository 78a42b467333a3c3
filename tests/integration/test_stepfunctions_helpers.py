"""harness.stepfunctions against real executions: paths, attempts, branches, failures, sagas."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import pytest

from harness.stepfunctions import (assert_saga, execution_path, time_scale, wait_for_path,
                                   wait_for_started_execution)
from tests.integration.conftest import unique

#: fails while the event says so; echoes otherwise
FLAKY = '''
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event.get("fail")))
    return {"ok": True, "seen": event}
'''


@pytest.fixture
def sfn(localstack):
    return localstack.client("stepfunctions")


@pytest.fixture
def create_state_machine(sfn, localstack) -> Iterator[Callable[[dict], str]]:
    """Factory: ``create_state_machine(definition) -> arn``; deleted after the test."""
    account = localstack.client("sts").get_caller_identity()["Account"]
    created: list[str] = []

    def create(definition: dict[str, Any]) -> str:
        arn = sfn.create_state_machine(
            name=unique("lsh-sm"), definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{account}:role/lsh-integration-sfn")["stateMachineArn"]
        created.append(arn)
        return arn

    yield create
    for arn in created:
        sfn.delete_state_machine(stateMachineArn=arn)


@pytest.fixture
def fast_time(localstack):
    with time_scale(localstack, 0.001):
        yield


def start(sfn, machine: str, payload: dict) -> str:
    return sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]


def retrying_task(function_arn: str, next_state: str | None = None, **retry: Any) -> dict:
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
             "OutputPath": "$.Payload",
             "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2,
                        "BackoffRate": 1.0, **retry}]}
    return {**state, "Next": next_state} if next_state else {**state, "End": True}


def function_arn(lambda_client, name: str) -> str:
    return lambda_client.get_function_configuration(FunctionName=name)["FunctionArn"]


def test_a_failed_task_shows_its_attempts_error_and_last_events(
        sfn, create_state_machine, create_function, lambda_client, fast_time):
    fn = function_arn(lambda_client, create_function(FLAKY))
    machine = create_state_machine({"StartAt": "Charge", "States": {
        "Charge": retrying_task(fn, "Done"), "Done": {"Type": "Succeed"}}})

    path = wait_for_path(sfn, start(sfn, machine, {"fail": "card"}))

    path.assert_status("FAILED").assert_states(["Charge"]).assert_attempts(Charge=3)
    assert path.failed_state == "Charge"
    assert path.error == "ValueError" and "asked to fail: card" in path.cause
    assert [e["error"] for e in path.runs[0].errors] == ["ValueError"] * 3
    assert path.last_events[-1].split()[1] == "ExecutionFailed"
    assert "Charge (Task) x3" in path.describe()
    with pytest.raises(AssertionError, match=r"expected status SUCCEEDED, got FAILED"):
        path.assert_status("SUCCEEDED")


def test_a_succeeding_path_has_states_in_order_and_the_output(
        sfn, create_state_machine, create_function, lambda_client):
    fn = function_arn(lambda_client, create_function(FLAKY))
    machine = create_state_machine({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": {"fail": False}, "Next": "Charge"},
        "Charge": retrying_task(fn, "Check"),
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}], "Default": "Oops"},
        "Oops": {"Type": "Fail", "Error": "NotOk"},
        "Done": {"Type": "Succeed"}}})

    path = wait_for_path(sfn, start(sfn, machine, {}))

    path.assert_status("SUCCEEDED").assert_states(["Prepare", "Charge", "Check", "Done"])
    path.assert_attempts(Charge=1, Prepare=0).assert_not_entered("Oops")
    assert path.output == {"ok": True, "seen": {"fail": False}}
    assert path.runs_of("Charge")[0].output == path.output
    assert path.failed_state is None
    with pytest.raises(AssertionError, match=r"expected states .*'Oops'\], got .*'Done'\]"):
        path.assert_states(["Prepare", "Charge", "Check", "Oops"])
    with pytest.raises(AssertionError, match=r"expected \['Done'\] not to be entered"):
        path.assert_not_entered("Oops", "Done")


def test_each_parallel_branch_is_a_path_of_its_own(sfn, create_state_machine):
    machine = create_state_machine({"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "Next": "After", "Branches": [
            {"StartAt": "A1", "States": {"A1": {"Type": "Pass", "Next": "A2"},
                                         "A2": {"Type": "Pass", "End": True}}},
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}}]},
        "After": {"Type": "Pass", "End": True}}})

    path = wait_for_path(sfn, start(sfn, machine, {"x": 1}))

    path.assert_status("SUCCEEDED").assert_states(["Both", "After"])
    branches = sorted(branch.states for branch in path.runs_of("Both")[0].branches)
    assert branches == [["A1", "A2"], ["B1"]]
    assert path.output == [{"x": 1}, {"x": 1}]


def test_an_execution_started_elsewhere_is_found_by_its_input(sfn, create_state_machine):
    machine = create_state_machine({"StartAt": "Only", "States": {
        "Only": {"Type": "Pass", "End": True}}})
    for n in range(3):
        start(sfn, machine, {"orderId": f"o-{n}"})

    arn = wait_for_started_execution(sfn, machine, lambda doc: doc["orderId"] == "o-2")
    assert json.loads(sfn.describe_execution(executionArn=arn)["input"]) == {"orderId": "o-2"}
    assert wait_for_started_execution(sfn, machine, '"o-1"') != arn
    assert execution_path(sfn, arn).states in ([], ["Only"])  # may still be running


def test_assert_saga_checks_steps_compensations_and_attempts(
        sfn, create_state_machine, create_function, lambda_client, fast_time):
    fn = function_arn(lambda_client, create_function(FLAKY))
    machine = create_state_machine({"StartAt": "Pay", "States": {
        "Pay": {"Type": "Pass", "Next": "Reserve"},
        "Reserve": {**retrying_task(fn, "Shipped"),
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                               "Next": "Refund"}]},
        "Shipped": {"Type": "Succeed"},
        "Refund": {"Type": "Pass", "Next": "Cancel"},
        "Cancel": {"Type": "Fail", "Error": "Cancelled"}}})

    path = wait_for_path(sfn, start(sfn, machine, {"fail": "no stock"}))

    assert_saga(path, steps=["Pay", "Reserve"], compensations=["Refund", "Cancel"],
                not_entered=["Shipped"], attempts={"Reserve": 3}, status="FAILED")
    with pytest.raises(AssertionError, match="expected attempts"):
        assert_saga(path, steps=["Pay", "Reserve"], attempts={"Reserve": 1})
    with pytest.raises(AssertionError, match="missing"):
        assert_saga(path, steps=["Pay", "Reserve"], compensations=["Cancel", "Refund"])


def test_each_map_iteration_is_a_path_of_its_own(sfn, create_state_machine):
    machine = create_state_machine({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.xs", "Next": "After", "Iterator": {
            "StartAt": "I1", "States": {"I1": {"Type": "Pass", "Next": "I2"},
                                        "I2": {"Type": "Pass", "End": True}}}},
        "After": {"Type": "Pass", "End": True}}})

    path = wait_for_path(sfn, start(sfn, machine, {"xs": [1, 2, 3]}))

    path.assert_status("SUCCEEDED").assert_states(["Each", "After"])
    assert [b.states for b in path.runs_of("Each")[0].branches] == [["I1", "I2"]] * 3
    assert path.output == [1, 2, 3]


def test_an_execution_that_does_not_end_in_time_shows_its_path_so_far(sfn, create_state_machine):
    from harness.waits import EventuallyTimeout

    machine = create_state_machine({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 30, "End": True}}})
    arn = start(sfn, machine, {})
    try:
        with pytest.raises(EventuallyTimeout) as caught:
            wait_for_path(sfn, arn, timeout=1.0)
        assert "Prepare (Pass)" in caught.value.diagnosis
        assert "Nap (Wait) [not exited]" in caught.value.diagnosis
    finally:
        sfn.stop_execution(executionArn=arn)
