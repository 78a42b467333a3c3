"""BusTap on a real LocalStack bus: every event, in order, without taking any from the bus's own
rules; and ``never`` woken by the change feed for "this event did not arrive"."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from harness.probes import wait_for_message
from harness.taps import BusTap
from harness.waits import NeverViolated, never
from tests.integration.conftest import unique


@pytest.fixture
def events_client(localstack):
    return localstack.client("events")


@pytest.fixture
def create_bus(events_client) -> Iterator:
    """Factory: ``create_bus() -> name``; deleted (with any rules left on it) after the test."""
    names: list[str] = []

    def create() -> str:
        name = unique("lsh-bus")
        events_client.create_event_bus(Name=name)
        names.append(name)
        return name

    yield create
    for name in names:
        for rule in events_client.list_rules(EventBusName=name)["Rules"]:
            targets = events_client.list_targets_by_rule(Rule=rule["Name"], EventBusName=name)
            if targets["Targets"]:
                events_client.remove_targets(Rule=rule["Name"], EventBusName=name,
                                             Ids=[t["Id"] for t in targets["Targets"]])
            events_client.delete_rule(Name=rule["Name"], EventBusName=name)
        events_client.delete_event_bus(Name=name)


def _put(events_client, bus: str, *entries: dict) -> list[str]:
    response = events_client.put_events(Entries=[
        {"EventBusName": bus, "Source": "lsh.test", "DetailType": "tick", **entry,
         "Detail": json.dumps(entry.get("Detail", {}))} for entry in entries])
    assert response["FailedEntryCount"] == 0, response
    return [e["EventId"] for e in response["Entries"]]


def test_every_event_is_recorded_in_put_order(localstack, events_client, create_bus):
    bus = create_bus()
    with BusTap(localstack, bus) as tap:
        ids = []
        for batch in range(3):  # 3 puts of 10 entries, several sources and detail types
            ids += _put(events_client, bus, *[
                {"Source": f"lsh.src{n % 3}", "DetailType": f"type{n % 2}",
                 "Detail": {"n": batch * 10 + n}} for n in range(10)])
        seen = tap.wait_for(lambda e: True, count=30, description="30 events on the tap")
    assert [e["id"] for e in seen] == ids
    assert [e["detail"]["n"] for e in seen] == list(range(30))
    assert seen[4]["source"] == "lsh.src1" and seen[4]["detail-type"] == "type0"


def test_the_bus_own_rules_still_get_every_event(localstack, events_client, create_bus,
                                                 create_queue, sqs_client):
    bus = create_bus()
    url, arn = create_queue("lsh-app-target")
    events_client.put_rule(Name="app-rule", EventBusName=bus,
                           EventPattern=json.dumps({"source": ["lsh.app"]}))
    events_client.put_targets(Rule="app-rule", EventBusName=bus,
                              Targets=[{"Id": "app", "Arn": arn}])
    with BusTap(localstack, bus) as tap:
        [event_id] = _put(events_client, bus, {"Source": "lsh.app", "Detail": {"k": 1}})
        [event] = tap.wait_for(lambda e: e["id"] == event_id)
        message = wait_for_message(sqs_client, url, lambda m: event_id in m["Body"], timeout=10)
    assert event["detail"] == {"k": 1}
    assert json.loads(message["Body"])["id"] == event_id


def test_close_removes_the_rule_and_the_queue(localstack, events_client, create_bus, sqs_client):
    bus = create_bus()
    tap = BusTap(localstack, bus)
    tap.close()
    assert events_client.list_rules(EventBusName=bus)["Rules"] == []
    with pytest.raises(sqs_client.exceptions.QueueDoesNotExist):
        sqs_client.get_queue_attributes(QueueUrl=tap.queue_url, AttributeNames=["QueueArn"])


def test_never_holds_for_another_bus_and_fails_for_this_one(localstack, events_client,
                                                             create_bus):
    bus, other = create_bus(), create_bus()
    with BusTap(localstack, bus) as tap:
        [elsewhere] = _put(events_client, other, {"Detail": {"where": "other"}})
        checks = never(lambda: tap.matching(lambda e: e["id"] == elsewhere), during=1.0,
                       description="an event put on another bus reaches the tap")
        assert checks >= 2

        [here] = _put(events_client, bus, {"Detail": {"where": "here"}})
        with pytest.raises(NeverViolated) as info:
            never(lambda: tap.matching(lambda e: e["id"] == here), during=10)
    assert info.value.at < 5 and info.value.seen[0]["detail"] == {"where": "here"}
