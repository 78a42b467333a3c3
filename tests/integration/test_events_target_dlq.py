"""lsh_localstack_plugins.events_target_dlq: an event a rule cannot deliver to its target goes to
the target's dead-letter queue with AWS's attributes (LocalStack alone only logs it)."""

from __future__ import annotations

import json

import pytest

from harness.probes import wait_for_message
from harness.waits import never
from tests.integration.conftest import unique


@pytest.fixture
def bus(localstack):
    events, name = localstack.client("events"), unique("lsh-dlq-bus")
    events.create_event_bus(Name=name)
    yield name
    for rule in events.list_rules(EventBusName=name)["Rules"]:
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"],
                                                            EventBusName=name)["Targets"]]
        if ids:
            events.remove_targets(Rule=rule["Name"], EventBusName=name, Ids=ids)
        events.delete_rule(Name=rule["Name"], EventBusName=name)
    events.delete_event_bus(Name=name)


def _rule_to(events, bus: str, target_arn: str, dlq_arn: str) -> str:
    rule_arn = events.put_rule(Name="to-queue", EventBusName=bus,
                               EventPattern=json.dumps({"source": ["lsh.dlq"]}))["RuleArn"]
    events.put_targets(Rule="to-queue", EventBusName=bus, Targets=[{
        "Id": "queue", "Arn": target_arn, "DeadLetterConfig": {"Arn": dlq_arn}}])
    return rule_arn


def _put(events, bus: str) -> str:
    [entry] = events.put_events(Entries=[{"EventBusName": bus, "Source": "lsh.dlq",
                                          "DetailType": "t", "Detail": '{"n": 1}'}])["Entries"]
    return entry["EventId"]


def test_an_undeliverable_event_lands_in_the_target_dlq_with_the_reason(
        localstack, bus, create_queue, sqs_client):
    events = localstack.client("events")
    target_url, target_arn = create_queue("lsh-gone")
    dlq_url, dlq_arn = create_queue("lsh-target-dlq")
    rule_arn = _rule_to(events, bus, target_arn, dlq_arn)
    sqs_client.delete_queue(QueueUrl=target_url)

    event_id = _put(events, bus)
    message = wait_for_message(sqs_client, dlq_url, lambda m: event_id in m["Body"], timeout=10)
    event = json.loads(message["Body"])
    assert event["id"] == event_id and event["detail"] == {"n": 1}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn and attributes["TARGET_ARN"] == target_arn
    # the code of the call that failed (here SQS's), as LocalStack's sender saw it
    assert attributes["ERROR_CODE"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert "queue does not exist" in attributes["ERROR_MESSAGE"]


def test_a_delivered_event_does_not_reach_the_dlq(localstack, bus, create_queue, sqs_client):
    events = localstack.client("events")
    target_url, target_arn = create_queue("lsh-target")
    dlq_url, dlq_arn = create_queue("lsh-target-dlq")
    _rule_to(events, bus, target_arn, dlq_arn)

    event_id = _put(events, bus)
    wait_for_message(sqs_client, target_url, lambda m: event_id in m["Body"], timeout=10)
    never(lambda: sqs_client.receive_message(QueueUrl=dlq_url).get("Messages"), during=1.0,
          description="a delivered event in the target's DLQ")
