"""An EventBridge rule whose Step Functions target passes only part of the event (InputPath,
InputTransformer, constant Input) starts an execution with that input (lsh_localstack_plugins.
sfn_target; LocalStack 4.8.1 named the execution after the event id the input no longer has)."""

from __future__ import annotations

import json

import pytest

from harness.stepfunctions import wait_for_path, wait_for_started_execution
from tests.integration.conftest import unique
from tests.integration.test_stepfunctions_helpers import create_state_machine, sfn  # noqa: F401


@pytest.fixture
def bus(localstack):
    events = localstack.client("events")
    name = unique("lsh-bus")
    events.create_event_bus(Name=name)
    yield name
    for rule in events.list_rules(EventBusName=name)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=name)["Targets"]
        if targets:
            events.remove_targets(Rule=rule["Name"], EventBusName=name,
                                  Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=rule["Name"], EventBusName=name)
    events.delete_event_bus(Name=name)


@pytest.mark.parametrize("target_input, expected", [
    ({"InputPath": "$.detail"}, lambda marker: {"orderId": marker, "n": 1}),
    ({"InputTransformer": {"InputPathsMap": {"id": "$.detail.orderId"},
                           "InputTemplate": '{"order": <id>}'}},
     lambda marker: {"order": marker}),
    ({"Input": json.dumps({"constant": True})}, lambda marker: {"constant": True}),
], ids=["InputPath", "InputTransformer", "Input"])
def test_a_target_with_partial_input_starts_the_execution(localstack, sfn, create_state_machine,
                                                          bus, target_input, expected):
    events = localstack.client("events")
    machine = create_state_machine({"StartAt": "Only", "States": {
        "Only": {"Type": "Pass", "End": True}}})
    rule = unique("lsh-rule")
    events.put_rule(Name=rule, EventBusName=bus,
                    EventPattern=json.dumps({"source": ["lsh.test"]}))
    account = localstack.client("sts").get_caller_identity()["Account"]
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{
        "Id": "saga", "Arn": machine, "RoleArn": f"arn:aws:iam::{account}:role/lsh-events",
        **target_input}])
    marker = unique("order")
    events.put_events(Entries=[{"EventBusName": bus, "Source": "lsh.test", "DetailType": "T",
                                "Detail": json.dumps({"orderId": marker, "n": 1})}])

    arn = wait_for_started_execution(sfn, machine, lambda doc: True, timeout=15)
    path = wait_for_path(sfn, arn)
    path.assert_status("SUCCEEDED")
    assert path.output == expected(marker)
