"""harness.routing on a real LocalStack: a scratch bus with two rules (queues as targets); an
event reaches exactly its rule's targets, a near miss none, and a wrong expectation fails with
one message naming what was reached and what was expected."""

from __future__ import annotations

import json
import uuid

import pytest

from harness.errors import HarnessError
from harness.routing import BusRoutes


@pytest.fixture
def bus(localstack, create_queue):
    """A bus with rule ``paid`` (source shop, Order Paid) -> queues A and B, and rule
    ``shipped`` (source shop, Order Shipped | Order Delivered) -> queue C."""
    events = localstack.client("events")
    name = f"lsh-routing-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=name)
    queues = {label: create_queue(f"lsh-route-{label}") for label in "ABC"}
    rules = {"paid": (["Order Paid"], "AB"), "shipped": (["Order Shipped", "Order Delivered"], "C")}
    for rule, (detail_types, labels) in rules.items():
        events.put_rule(Name=rule, EventBusName=name, EventPattern=json.dumps(
            {"source": ["shop"], "detail-type": detail_types}))
        events.put_targets(Rule=rule, EventBusName=name, Targets=[
            {"Id": label, "Arn": queues[label][1]} for label in labels])
    yield name, {label: arn.rsplit(":", 1)[-1] for label, (_, arn) in queues.items()}
    for rule, (_, labels) in rules.items():
        events.remove_targets(Rule=rule, EventBusName=name, Ids=list(labels))
        events.delete_rule(Name=rule, EventBusName=name)
    events.delete_event_bus(Name=name)


def event(source: str, detail_type: str) -> dict:
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps({"id": "o-1"})}


def test_each_event_reaches_exactly_its_rules_targets(localstack, bus):
    name, queue = bus
    with BusRoutes(localstack, name) as routes:
        assert set(routes.targets) == {"paid", "shipped"}
        found = routes.assert_routes([
            (event("shop", "Order Paid"), {queue["A"], queue["B"]}),
            (event("shop", "Order Delivered"), {"shipped"}),        # a rule's name: its targets
            (event("shop", "Order Refunded"), set()),               # right source, wrong type
            (event("shop.test", "Order Paid"), set()),              # right type, wrong source
        ], quiet=0.5)
    assert [sorted(r.rules) for r in found] == [["paid"], ["shipped"], [], []]
    assert all(r.on_bus for r in found)


def test_a_wrong_expectation_names_what_was_reached(localstack, bus):
    name, queue = bus
    with BusRoutes(localstack, name) as routes:
        with pytest.raises(AssertionError) as missing:
            routes.assert_reaches(event("shop", "Order Paid"), {queue["A"]}, quiet=0.5)
        with pytest.raises(AssertionError) as short:
            routes.assert_reaches(event("shop", "Order Refunded"), {queue["C"]}, timeout=1.5)
    assert f"reached {{{queue['A']}, {queue['B']}}}, expected {{{queue['A']}}}" in str(
        missing.value)
    assert f"rules matched: none; reached nothing, expected {{{queue['C']}}}" in str(short.value)


def test_unknown_names_and_refused_events_are_one_clear_error(localstack, bus):
    name, _ = bus
    with BusRoutes(localstack, name) as routes:
        with pytest.raises(HarnessError, match="'nope' is not a target or rule of bus .*; its "
                                               "targets: lsh-route-A"):
            routes.resolve(["nope"])
        with pytest.raises(HarnessError, match="refused 'shop' / 'Order Paid': .*Detail"):
            routes.put([{"Source": "shop", "DetailType": "Order Paid", "Detail": "not json"}])
