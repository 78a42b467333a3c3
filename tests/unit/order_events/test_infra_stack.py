"""The order-events stack: the seed's wiring is in the template, and IAM is least privilege."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.order_events.stack import (EVENTS_BY_TYPE_INDEX, ORDER_PLACED_PATTERN,  # noqa: E402
                                      OUTPUT_NAMES, OrderEventsStack)

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def synth(context: dict | None = None) -> Template:
    app = build_app(context={**NO_BUNDLING, **(context or {})}, apps=["order_events"])
    stack = next(c for c in app.node.children if isinstance(c, OrderEventsStack))
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return synth()


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template.to_json()["Resources"]


def logical_id(resources: dict, type_: str, prefix: str) -> str:
    [found] = [k for k, v in resources.items() if v["Type"] == type_ and k.startswith(prefix)]
    return found


def policy_statements(resources: dict, role_prefix: str) -> list[dict]:
    [policy] = [v for k, v in resources.items()
                if v["Type"] == "AWS::IAM::Policy" and k.startswith(role_prefix)]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_rule_has_exactly_the_seed_pattern_and_targets_the_processor(template, resources):
    processor = logical_id(resources, "AWS::Lambda::Function", "OrderProcessor")
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": ORDER_PLACED_PATTERN,
        "EventBusName": {"Ref": logical_id(resources, "AWS::Events::EventBus", "Bus")},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [processor, "Arn"]},
                                       "DeadLetterConfig": Match.any_value()})]})
    template.resource_count_is("AWS::Events::Rule", 1)
    template.has_resource_properties("AWS::Lambda::Permission", {
        "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [logical_id(resources, "AWS::Events::Rule", "OrderPlaced"),
                                     "Arn"]}})


def test_the_table_is_keyed_by_order_id_with_a_gsi_by_event_type_and_timestamp(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [Match.object_like({
            "IndexName": EVENTS_BY_TYPE_INDEX, "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "event_type", "KeyType": "HASH"},
                          {"AttributeName": "timestamp", "KeyType": "RANGE"}]})]})


def test_both_functions_are_traced_and_use_the_app_package(template):
    for module in ("publisher", "processor"):
        template.has_resource_properties("AWS::Lambda::Function", {
            "Handler": f"functions.order_events.{module}.handler", "Runtime": "python3.11",
            "TracingConfig": {"Mode": "Active"}})


def test_the_publisher_may_only_put_events_on_the_app_bus(resources):
    bus = logical_id(resources, "AWS::Events::EventBus", "Bus")
    statements = policy_statements(resources, "EventPublisherServiceRole")
    assert {"Action": "events:PutEvents", "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [bus, "Arn"]}} in statements
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str)
                                               else s["Action"])}
    assert actions == {"events:PutEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_the_processor_may_only_put_items_and_dead_letters(resources):
    table = logical_id(resources, "AWS::DynamoDB::Table", "EventsTable")
    dlq = logical_id(resources, "AWS::SQS::Queue", "ProcessorDlq")
    statements = policy_statements(resources, "OrderProcessorServiceRole")
    assert {"Action": "dynamodb:PutItem", "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table, "Arn"]}} in statements
    assert {"Action": "sqs:SendMessage", "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [dlq, "Arn"]}} in statements
    assert len(statements) == 3  # the third: X-Ray's PutTraceSegments/PutTelemetryRecords


def test_the_processor_dead_letters_failed_events_after_its_retries(template, resources):
    dlq = logical_id(resources, "AWS::SQS::Queue", "ProcessorDlq")
    template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "functions.order_events.processor.handler",
        "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": [dlq, "Arn"]}}})
    template.has_resource_properties("AWS::Lambda::EventInvokeConfig",
                                     {"MaximumRetryAttempts": 2})
    synth({"processor_retry_attempts": "0"}).has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0})


def test_outputs_and_log_groups(template):
    outputs = template.to_json()["Outputs"]
    assert set(OUTPUT_NAMES) <= set(outputs)
    assert outputs["EventsByTypeIndexName"]["Value"] == EVENTS_BY_TYPE_INDEX
    template.resource_count_is("AWS::Logs::LogGroup", 2)
    template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})
