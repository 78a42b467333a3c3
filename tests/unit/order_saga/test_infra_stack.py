"""The order saga's CDK stack: the seed's resources and outputs, the state machine's branches,
retries and compensation, least-privilege IAM; synthesized without building the code assets."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.order_saga.stack import CUSTOMER_INDEX, OUTPUT_NAMES, OrderSagaStack  # noqa: E402

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def synth(context: dict | None = None) -> Template:
    app = build_app(context={**NO_BUNDLING, **(context or {})}, apps=["order_saga"])
    return Template.from_stack(next(c for c in app.node.children
                                    if isinstance(c, OrderSagaStack)))


@pytest.fixture(scope="module")
def template() -> Template:
    return synth()


def definition(template: Template) -> dict:
    """The state machine's ASL, with the CloudFormation references replaced by their names."""
    machine, = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else json.dumps(p).replace('"', "'") for p in parts)
    return json.loads(text)


def functions_by_handler(template: Template) -> dict[str, dict]:
    return {f["Properties"]["Handler"].rsplit(".", 2)[-2]: f
            for f in template.find_resources("AWS::Lambda::Function").values()}


def test_the_orders_table_is_the_seeds(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "orderId", "KeyType": "HASH"},
                      {"AttributeName": "customerId", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [Match.object_like({
            "IndexName": CUSTOMER_INDEX,
            "KeySchema": [{"AttributeName": "customerId", "KeyType": "HASH"}]})]})


def test_four_services_on_the_projects_runtime_with_the_seeds_settings(template):
    found = functions_by_handler(template)
    assert sorted(found) == ["inventory_service", "notification_service", "order_service",
                             "payment_service"]
    for fn in found.values():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.11" and props["MemorySize"] == 256
        assert props["Timeout"] == 30
        assert "EVENT_BUS_NAME" in props["Environment"]["Variables"]
    assert found["payment_service"]["Properties"]["Environment"]["Variables"][
        "PAYMENT_SUCCESS_RATE"] == "0.9"
    assert found["inventory_service"]["Properties"]["Environment"]["Variables"][
        "INVENTORY_AVAILABILITY_RATE"] == "0.95"


def test_rates_and_timeout_come_from_context():
    found = functions_by_handler(synth({"payment_success_rate": "1",
                                        "function_timeout_seconds": "3"}))
    payment = found["payment_service"]["Properties"]
    assert payment["Environment"]["Variables"]["PAYMENT_SUCCESS_RATE"] == "1"
    assert payment["Timeout"] == 3


def test_log_groups_keep_fourteen_days(template):
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 5  # four functions and the state machine
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {14}
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "LoggingConfiguration": Match.object_like({"Level": "ALL"})})


def test_the_rule_starts_the_saga_with_the_order(template):
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": ["order.saga"], "detail-type": ["Order Created"]},
        "Targets": [Match.object_like({"InputPath": "$.detail"})]})


def test_the_state_machine_has_the_seeds_path_failures_and_compensation(template):
    states = definition(template)["States"]
    assert definition(template)["StartAt"] == "ProcessPayment"
    assert states["ProcessPayment"]["Next"] == "CheckPaymentStatus"
    assert states["CheckPaymentStatus"]["Choices"][0]["Next"] == "ReserveInventory"
    assert states["CheckPaymentStatus"]["Default"] == "MarkPaymentFailed"
    assert states["ReserveInventory"]["Next"] == "CheckInventoryStatus"
    assert states["CheckInventoryStatus"]["Default"] == "RefundPayment"
    assert states["RefundPayment"]["Next"] == "CancelOrder"
    assert states["CancelOrder"]["Next"] == "NotifyOrderCancelled"
    assert states["SendNotification"]["Catch"][0]["Next"] == "NotificationFailed"
    assert states["PaymentFailed"]["Type"] == states["InventoryFailed"]["Type"] == "Fail"
    for name in ("ProcessPayment", "ReserveInventory", "RefundPayment", "SendNotification"):
        retry, = states[name]["Retry"]
        assert retry == {"ErrorEquals": ["States.TaskFailed", "States.Timeout"],
                         "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}
    cancel = states["CancelOrder"]["Parameters"]
    assert cancel["ExpressionAttributeValues"][":status"] == {"S": "CANCELLED"}
    assert cancel["ExpressionAttributeValues"][":refundId"] == {"S.$": "$.refund.refundId"}


def test_only_the_order_service_writes_the_table_and_the_machine_updates_it(template):
    policies = template.find_resources("AWS::IAM::Policy")
    writers = {name for name, p in policies.items()
               for s in p["Properties"]["PolicyDocument"]["Statement"]
               if "dynamodb:PutItem" in (s["Action"] if isinstance(s["Action"], list)
                                         else [s["Action"]])}
    assert len(writers) == 1 and next(iter(writers)).startswith("OrderService")
    updaters = {name for name, p in policies.items()
                for s in p["Properties"]["PolicyDocument"]["Statement"]
                if "dynamodb:UpdateItem" in (s["Action"] if isinstance(s["Action"], list)
                                             else [s["Action"]])}
    assert len(updaters) == 1 and "OrderSaga" in next(iter(updaters))
    for p in policies.values():
        for s in p["Properties"]["PolicyDocument"]["Statement"]:
            assert s["Resource"] != "*" or s["Action"] in (
                "xray:PutTraceSegments", "logs:CreateLogDelivery") or "logs:" in str(s["Action"])


def test_the_seeds_outputs(template):
    assert sorted(template.find_outputs("*")) == sorted(OUTPUT_NAMES)
