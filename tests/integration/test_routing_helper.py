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
    for rule in events.list_rules(EventBusName=name)["Rules"]:  # a test's own rules too
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"],
                                                            EventBusName=name)["Targets"]]
        if ids:
            events.remove_targets(Rule=rule["Name"], EventBusName=name, Ids=ids)
        events.delete_rule(Name=rule["Name"], EventBusName=name)
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


# --- the EventBridge trace stages (plugin lsh_localstack_plugins.events_log) ---

def test_the_trace_follows_an_event_across_the_bus_into_a_target_dlq(localstack, bus,
                                                                     create_queue):
    """A rule whose target cannot be delivered to (a function that does not exist) with a DLQ:
    the event ends in that DLQ once (plugin events_target_dlq), and the trace shows every
    stage: put, matched, the target's failure with its error, the DLQ that holds it."""
    from harness.dlq import url_of_arn
    from harness.probes import peek_messages
    from harness.trace import Tracer
    from harness.trace.eventbridge import bus_stages
    from harness.waits import eventually

    name, _ = bus
    events, sqs = localstack.client("events"), localstack.client("sqs")
    dlq_url, dlq_arn = create_queue("lsh-route-dlq")
    missing = f"arn:aws:lambda:{localstack.region}:000000000000:function:lsh-missing"
    events.put_rule(Name="refunds", EventBusName=name,
                    EventPattern=json.dumps({"source": ["shop"], "detail-type": ["Refund"]}))
    events.put_targets(Rule="refunds", EventBusName=name, Targets=[
        {"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}])
    needle = f"refund-{uuid.uuid4().hex[:8]}"
    events.put_events(Entries=[{"EventBusName": name, "Source": "shop", "DetailType": "Refund",
                                "Detail": json.dumps({"id": needle})}])

    def dead_lettered() -> dict:
        [message] = [m for m in peek_messages(sqs, dlq_url) if needle in m["Body"]]
        return message
    message = eventually(dead_lettered, description="the undeliverable event in the target DLQ")
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == missing and attributes["RULE_ARN"].endswith("/refunds")
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException", attributes
    assert json.loads(message["Body"])["detail"] == {"id": needle}
    assert url_of_arn(sqs, dlq_arn).rsplit("/", 1)[-1] == dlq_url.rsplit("/", 1)[-1]

    trace = Tracer(localstack, bus_stages(name, "shop bus")).trace(needle)
    by_name = {s.name: s for s in trace.stages}
    assert [s.reached for s in trace.stages] == [True, True, False, True], trace.render()
    assert "matched by refunds" in by_name["shop bus: rule matched"].detail
    assert "lsh-missing failed: ResourceNotFoundException" in by_name[
        "shop bus: target sent"].detail
    assert "DLQ lsh-route-dlq" in by_name["shop bus: target DLQ"].detail


def test_the_trace_of_a_delivered_event_and_of_a_near_miss(localstack, bus):
    from harness.trace import Tracer
    from harness.trace.eventbridge import bus_stages

    name, queue = bus
    events = localstack.client("events")
    delivered, missed = (f"o-{uuid.uuid4().hex[:8]}" for _ in range(2))
    events.put_events(Entries=[
        {"EventBusName": name, "Source": "shop", "DetailType": "Order Paid",
         "Detail": json.dumps({"id": delivered})},
        {"EventBusName": name, "Source": "shop", "DetailType": "Order Lost",
         "Detail": json.dumps({"id": missed})}])
    tracer = Tracer(localstack, bus_stages(name))
    ok, miss = tracer.trace(delivered), tracer.trace(missed)
    assert [s.reached for s in ok.stages] == [True, True, True, None], ok.render()
    assert f"sent to {queue['A']}, {queue['B']}" in ok.stages[2].detail
    assert [s.reached for s in miss.stages] == [True, False, False, None], miss.render()
    assert "no rule of the bus matched it (source 'shop', detail-type 'Order Lost')" in \
        miss.stages[1].detail


def test_a_target_whose_delivery_failed_is_not_reached(localstack, bus):
    """A rule matches, but its target (a function that does not exist) cannot be handed the
    event: the event did not reach it, and the failure says why."""
    name, _ = bus
    events = localstack.client("events")
    missing = f"arn:aws:lambda:{localstack.region}:000000000000:function:lsh-gone"
    events.put_rule(Name="voids", EventBusName=name,
                    EventPattern=json.dumps({"source": ["shop"], "detail-type": ["Void"]}))
    events.put_targets(Rule="voids", EventBusName=name, Targets=[{"Id": "gone", "Arn": missing}])
    with BusRoutes(localstack, name) as routes:
        with pytest.raises(AssertionError) as failed:
            routes.assert_reaches(event("shop", "Void"), {"lsh-gone"}, quiet=0.2)
    assert "rules matched: ['voids']; reached nothing, expected {lsh-gone}; delivery to " \
           "lsh-gone FAILED: ResourceNotFoundException" in str(failed.value), str(failed.value)
    assert "Function not found" in str(failed.value)
