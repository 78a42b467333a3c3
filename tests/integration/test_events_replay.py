"""EventBridge archive and replay on our LocalStack (``lsh_localstack_plugins.events_replay`` and
``.events_archive``) through ``harness.replay``: StartReplay completes, replayed events reach a
rule with their original time and a ``replay-name``, the archive's own rule does not re-archive
them, and CloudFormation creates an ``AWS::Events::Archive``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from harness.probes import peek_messages
from harness.replay import ReplayFailed, replay_archive, replayed_events, wait_for_replay
from harness.waits import eventually
from tests.integration.conftest import unique

PAST = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)


@pytest.fixture
def bus_to_queue(localstack, create_queue):
    """A bus with an archive, a rule on replayed events only (-> queue) and a rule on new events
    only (-> queue). Yields (bus name, archive name, replay queue url, live queue url)."""
    events, sqs = localstack.client("events"), localstack.client("sqs")
    bus = unique("lsh-bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    archive = unique("lsh-archive")
    events.create_archive(ArchiveName=archive, EventSourceArn=bus_arn,
                          EventPattern=json.dumps({"source": ["lsh.test"]}))
    queues = {}
    for rule, pattern in (("replayed", {"replay-name": [{"exists": True}]}),
                          ("live", {"source": ["lsh.test"], "replay-name": [{"exists": False}]})):
        url, arn = create_queue(f"lsh-{rule}")
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn}]})})
        events.put_rule(Name=f"{bus}-{rule}", EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"{bus}-{rule}", EventBusName=bus,
                           Targets=[{"Id": "queue", "Arn": arn}])
        queues[rule] = url
    yield bus, archive, queues["replayed"], queues["live"]
    for rule in ("replayed", "live"):
        events.remove_targets(Rule=f"{bus}-{rule}", EventBusName=bus, Ids=["queue"])
        events.delete_rule(Name=f"{bus}-{rule}", EventBusName=bus)
    events.delete_archive(ArchiveName=archive)
    events.delete_event_bus(Name=bus)


def test_replay_delivers_archived_events_with_their_time(localstack, bus_to_queue):
    events, sqs = localstack.client("events"), localstack.client("sqs")
    bus, archive, replay_queue, live_queue = bus_to_queue
    entries = [{"Source": "lsh.test", "DetailType": "t", "Detail": json.dumps({"n": n}),
                "EventBusName": bus, "Time": PAST} for n in range(3)]
    entries.append({"Source": "other", "DetailType": "t", "Detail": "{}", "EventBusName": bus})
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    eventually(lambda: len(peek_messages(sqs, live_queue)) == 3, timeout=20,
               description="3 live events on the live queue")

    done = replay_archive(events, archive, bus, since=PAST - timedelta(minutes=5),
                          until=PAST + timedelta(minutes=5), timeout=30)

    assert done.state == "COMPLETED"
    got = eventually(lambda: (lambda r: r if len(r) == 3 else None)(
        replayed_events(sqs, replay_queue, done.name)), timeout=20,
        description="3 replayed events on the replay queue")
    assert sorted(e["detail"]["n"] for e in got) == [0, 1, 2]
    assert {e["time"] for e in got} == {"2024-01-15T10:30:00Z"}
    # replayed events are not live events, and the archive does not archive them again
    assert len(peek_messages(sqs, live_queue)) == 3
    second = replay_archive(events, archive, bus, since=PAST - timedelta(minutes=5),
                            until=PAST + timedelta(minutes=5), timeout=30)
    assert len(eventually(lambda: (lambda r: r if len(r) == 3 else None)(
        replayed_events(sqs, replay_queue, second.name)), timeout=20)) == 3


def test_replay_outside_the_window_delivers_nothing(localstack, bus_to_queue):
    events, sqs = localstack.client("events"), localstack.client("sqs")
    bus, archive, replay_queue, _ = bus_to_queue
    events.put_events(Entries=[{"Source": "lsh.test", "DetailType": "t", "Detail": "{}",
                                "EventBusName": bus, "Time": PAST}])
    done = replay_archive(events, archive, bus, since=PAST + timedelta(hours=1),
                          until=PAST + timedelta(hours=2), timeout=30)
    assert done.state == "COMPLETED"
    assert replayed_events(sqs, replay_queue, done.name) == []


def test_wait_for_replay_names_a_cancelled_replay(localstack, bus_to_queue, monkeypatch):
    events = localstack.client("events")
    description = {"ReplayName": "r", "ReplayArn": "arn:r", "State": "CANCELLED",
                   "StateReason": "cancelled by a test", "EventStartTime": PAST,
                   "EventEndTime": PAST}
    monkeypatch.setattr(events, "describe_replay", lambda **_: description)
    with pytest.raises(ReplayFailed, match="replay r ended CANCELLED: cancelled by a test"):
        wait_for_replay(events, "r", timeout=5)


def test_cloudformation_creates_an_archive(localstack):
    cfn, events = localstack.client("cloudformation"), localstack.client("events")
    stack = unique("lsh-archive-stack")
    template = {"Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": f"{stack}-bus"}},
        "Archive": {"Type": "AWS::Events::Archive", "Properties": {
            "SourceArn": {"Fn::GetAtt": ["Bus", "Arn"]}, "RetentionDays": 365,
            "EventPattern": {"source": ["lsh.test"]}}}},
        "Outputs": {"Name": {"Value": {"Ref": "Archive"}},
                    "Arn": {"Value": {"Fn::GetAtt": ["Archive", "Arn"]}}}}
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
        archive = events.describe_archive(ArchiveName=outputs["Name"])
        assert archive["ArchiveArn"] == outputs["Arn"]
        assert archive["RetentionDays"] == 365
        assert json.loads(archive["EventPattern"]) == {"source": ["lsh.test"]}

        template["Resources"]["Archive"]["Properties"]["RetentionDays"] = 30
        cfn.update_stack(StackName=stack, TemplateBody=json.dumps(template))
        cfn.get_waiter("stack_update_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        assert events.describe_archive(ArchiveName=outputs["Name"])["RetentionDays"] == 30
    finally:
        cfn.delete_stack(StackName=stack)
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_archive(ArchiveName=outputs["Name"])
