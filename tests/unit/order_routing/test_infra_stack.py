"""The order-routing stack's template: the seed's rules, queues, workflow and outputs are there,
failed deliveries are kept, and IAM is narrow. Synthesized once, without building assets."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.order_routing.stack import OUTPUT_NAMES, RULES, OrderRoutingStack  # noqa: E402


def synth(context: dict | None = None) -> Template:
    app = build_app(context={"aws:cdk:bundling-stacks": [], **(context or {})},
                    apps=["order_routing"])
    return Template.from_stack(next(c for c in app.node.children
                                    if isinstance(c, OrderRoutingStack)))


@pytest.fixture(scope="module")
def template() -> Template:
    return synth()


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template.to_json()["Resources"]


def of_type(resources: dict, type_: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def logical_id(resources: dict, type_: str, prefix: str) -> str:
    [found] = [k for k in of_type(resources, type_) if k.startswith(prefix)]
    return found


def test_four_rules_on_the_custom_bus_with_the_seeds_patterns(resources):
    bus = {"Ref": logical_id(resources, "AWS::Events::EventBus", "Bus")}
    rules = of_type(resources, "AWS::Events::Rule")
    patterns = sorted((r["Properties"]["EventPattern"]["source"],
                       r["Properties"]["EventPattern"]["detail-type"]) for r in rules.values())
    assert patterns == sorted(([s], list(d)) for s, d in RULES.values())
    assert RULES["orders"] == ("orders", ("Order Created", "Order Completed"))
    assert all(r["Properties"]["EventBusName"] == bus for r in rules.values())


@pytest.mark.parametrize("rule, target", [("Orders", "OrderProcessor"),
                                          ("Inventory", "InventoryProcessor"),
                                          ("Notifications", "NotificationProcessor"),
                                          ("Workflow", "Workflow")])
def test_each_rule_has_one_target_with_a_dead_letter_queue(resources, rule, target):
    props = resources[logical_id(resources, "AWS::Events::Rule", f"{rule}EventsRule")][
        "Properties"]
    [only] = props["Targets"]
    kind = "AWS::StepFunctions::StateMachine" if target == "Workflow" else "AWS::Lambda::Function"
    expected = ({"Ref": logical_id(resources, kind, target)} if target == "Workflow" else
                {"Fn::GetAtt": [logical_id(resources, kind, target), "Arn"]})
    assert only["Arn"] == expected
    assert only["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [
        logical_id(resources, "AWS::SQS::Queue", "EventTargetDlq"), "Arn"]}}


def test_failed_async_invocations_go_to_the_on_failure_queue(resources):
    configs = of_type(resources, "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 3
    failures = {"Fn::GetAtt": [logical_id(resources, "AWS::SQS::Queue", "AsyncFailureQueue"),
                               "Arn"]}
    for config in configs.values():
        assert config["Properties"]["DestinationConfig"] == {"OnFailure": {
            "Destination": failures}}
        assert config["Properties"]["MaximumRetryAttempts"] == 2


@pytest.mark.parametrize("name", ["Order", "Inventory"])
def test_queues_as_in_the_seed(resources, name):
    queue = resources[logical_id(resources, "AWS::SQS::Queue", f"{name}Queue")]["Properties"]
    dlq = logical_id(resources, "AWS::SQS::Queue", f"{name}Dlq")
    assert queue["VisibilityTimeout"] == 30
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                                      "maxReceiveCount": 3}


def test_functions_as_in_the_seed(resources):
    functions = of_type(resources, "AWS::Lambda::Function")
    assert len(functions) == 3
    for fn in functions.values():
        props = fn["Properties"]
        assert (props["Runtime"], props["MemorySize"], props["Timeout"]) == ("python3.11", 256, 30)
        assert props["Handler"].startswith("functions.order_routing.")


def test_state_machine_runs_both_processors_in_parallel(resources):
    [machine] = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    parts = props["DefinitionString"]["Fn::Join"][1]
    definition = json.loads("".join(p if isinstance(p, str) else '"ARN"' for p in parts)
                            .replace('""ARN""', '"ARN"'))
    assert definition["TimeoutSeconds"] == 300
    parallel = definition["States"][definition["StartAt"]]
    assert parallel["Type"] == "Parallel"
    starts = [b["StartAt"] for b in parallel["Branches"]]
    assert starts == ["ProcessOrder", "ProcessInventory"]
    for branch, failed in zip(parallel["Branches"], ["OrderProcessingFailed",
                                                     "InventoryProcessingFailed"]):
        task = branch["States"][branch["StartAt"]]
        assert "Lambda.ServiceException" in task["Retry"][0]["ErrorEquals"]
        assert task["Catch"][0]["Next"] == failed
        assert branch["States"][failed] == {"Type": "Fail", "Error": failed,
                                            "CausePath": "$.error.Cause"}


def test_outputs(template):
    outputs = template.to_json()["Outputs"]
    assert set(OUTPUT_NAMES) <= set(outputs)


def test_iam_is_narrow(template, resources):
    policies = of_type(resources, "AWS::IAM::Policy")
    actions = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found = statement["Action"] if isinstance(statement["Action"], list) else [
                statement["Action"]]
            actions |= set(found)
            if statement["Resource"] == "*":  # only X-Ray's calls take no resource
                assert all(a.startswith("xray:") for a in found), statement
    assert not any(a.endswith(":*") for a in actions), actions
    assert "dynamodb:Scan" not in actions and "dynamodb:DeleteItem" not in actions


def test_tuning_comes_from_context():
    template = synth({"retry_delay_seconds": "4", "async_retry_attempts": "0"})
    template.has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": 4})
    template.has_resource_properties("AWS::Lambda::Function", {"Timeout": 4})
    template.has_resource_properties("AWS::Lambda::EventInvokeConfig",
                                     {"MaximumRetryAttempts": 0, "DestinationConfig": Match.any_value()})
