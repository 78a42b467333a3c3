"""The ledger's CDK stack: the seed's resources and outputs, the wiring, least-privilege IAM."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.ledger.stack import EVENT_SOURCE, OUTPUT_NAMES, LedgerStack  # noqa: E402

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def synth(context: dict | None = None) -> Template:
    app = build_app(context={**NO_BUNDLING, **(context or {})}, apps=["ledger"])
    return Template.from_stack(next(c for c in app.node.children if isinstance(c, LedgerStack)))


@pytest.fixture(scope="module")
def template() -> Template:
    return synth()


def of_type(template: Template, kind: str) -> dict[str, dict]:
    return template.find_resources(kind)


def test_event_store_is_keyed_by_aggregate_and_version_with_a_stream(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "AggregateId", "KeyType": "HASH"},
                      {"AttributeName": "Version", "KeyType": "RANGE"}],
        "AttributeDefinitions": Match.array_with([{"AttributeName": "Version",
                                                   "AttributeType": "N"}]),
        "StreamSpecification": {"StreamViewType": "NEW_IMAGE"}})
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "AggregateId", "KeyType": "HASH"}]})


def test_archive_keeps_the_buses_events_for_the_seeds_365_days_or_the_context_value(template):
    template.has_resource_properties("AWS::Events::Archive", {
        "RetentionDays": 365, "EventPattern": {"source": [EVENT_SOURCE]},
        "SourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^Bus"), "Arn"]}})
    synth({"retention_days": "30"}).has_resource_properties("AWS::Events::Archive",
                                                            {"RetentionDays": 30})


def test_projection_mapping_bisects_retries_a_bounded_number_of_times_then_dead_letters(template):
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 3,
        "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {"OnFailure": {"Destination": {
            "Fn::GetAtt": [Match.string_like_regexp("^ProjectionDlq"), "Arn"]}}}})


def test_rebuild_rule_matches_only_replayed_events_and_targets_the_projection(template):
    [rule] = of_type(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {"source": [EVENT_SOURCE],
                                                  "replay-name": [{"exists": True}]}
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("ProjectionHandler")
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2}


def test_alarms_cover_write_throttles_function_errors_and_failed_invocations(template):
    metrics = sorted(a["Properties"]["MetricName"]
                     for a in of_type(template, "AWS::CloudWatch::Alarm").values())
    assert metrics == ["ApproximateNumberOfMessagesVisible", "Errors", "Errors", "Errors",
                       "FailedInvocations", "WriteThrottleEvents"]


def test_outputs_are_the_seeds(template):
    outputs = template.to_json()["Outputs"]
    assert set(OUTPUT_NAMES) <= set(outputs)
    assert outputs["EventArchive"]["Value"]["Ref"].startswith("BusEventArchive")


def test_each_function_may_do_only_what_it_does(template):
    policies = {name: [s for s in p["Properties"]["PolicyDocument"]["Statement"]]
                for name, p in of_type(template, "AWS::IAM::Policy").items()}

    def actions(prefix: str) -> set[str]:
        [statements] = [s for n, s in policies.items() if n.startswith(prefix)]
        found = set()
        for s in statements:
            found |= set([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        return found

    assert {a for a in actions("CommandHandler") if a.startswith("dynamodb:")} == {
        "dynamodb:Query", "dynamodb:PutItem"}
    assert "events:PutEvents" in actions("CommandHandler")
    query = actions("QueryHandler")
    assert query == {"dynamodb:Query", "dynamodb:GetItem"}
    projection = actions("ProjectionHandler")
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
            "sqs:SendMessage"} <= projection
    assert not {a for a in projection | query | actions("CommandHandler")
                if a in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:*")}
