"""The order-events app's demo scenario (``make demo``): the seed's order and its near misses.

Sends, into the deployed app: the seed's order (stored, and found through the GSI by type and
time), the same order with another status, another detail-type and another source (on the bus,
never stored), a publisher request without an ``orderId`` (refused, nothing on the bus), and an
``order_placed`` event that is not an order put straight on the bus (in the processor's
dead-letter queue with its reason). Prints one row per event and one summary line; 0 only when
every event ended where it should.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from harness.deploy import CdkApp
from harness.localstack import LocalStack
from harness.taps import BusTap
from harness.waits import EventuallyTimeout, NeverViolated, eventually, never
from tests.e2e.apps import reference_app
from tests.e2e.order_events.client import OrderEvents, sample_order, window

TITLE = "order events (seed 000): publisher -> EventBridge rule -> processor -> DynamoDB (GSI)"
#: failed processor events go to the dead-letter queue at once (no async retries)
DEMO_CONTEXT = {"processor_retry_attempts": "0"}
PATIENCE = 20.0
QUIET = 2.0


def app() -> CdkApp:
    return reference_app("order_events", DEMO_CONTEXT)


@dataclass
class Sent:
    label: str
    expect: str  # STORED, NOT ROUTED, REFUSED, DEAD-LETTERED
    order_id: str
    event_id: str | None = None
    sent_at: float = 0.0
    outcome: str = "LOST"
    seconds: float | None = None
    note: str = ""


def scenario(localstack: LocalStack, deployed, out: Callable[[str], None] = print) -> int:
    """Send the events, follow them, print the table and the summary line."""
    orders = OrderEvents(localstack, deployed.outputs)
    start, end = window()
    run = uuid.uuid4().hex[:6]
    with BusTap(localstack, orders.bus) as tap:
        sent = _send(orders, run)
        _follow(orders, tap, sent, start, end)
    return _report(sent, out)


def _send(orders: OrderEvents, run: str) -> list[Sent]:
    def order_id(n: int) -> str:
        return f"DEMO-{run}-{n}"

    sent: list[Sent] = []

    def publish(label: str, expect: str, n: int, **extra) -> None:
        item = Sent(label, expect, order_id(n), sent_at=time.monotonic())
        result = orders.publish(sample_order(item.order_id, **extra))
        item.event_id = result.event_id
        if result.error_type:
            item.note = f"{result.error_type}: {result.error_message}"
        sent.append(item)

    publish("seed order, PLACED", "STORED", 1)
    publish("status SHIPPED", "NOT ROUTED", 2, status="SHIPPED")
    publish("detail-type order_shipped", "NOT ROUTED", 3, detailType="order_shipped")
    other = Sent("source custom.other", "NOT ROUTED", order_id(4), sent_at=time.monotonic())
    other.event_id = orders.put_on_bus({**sample_order(other.order_id), "status": "PLACED"},
                                       source="custom.other")
    sent.append(other)
    refused = Sent("publisher input without orderId", "REFUSED", order_id(5),
                   sent_at=time.monotonic())
    result = orders.publish({"customer": refused.order_id, "items": [{"id": "p", "quantity": 1}]})
    refused.event_id = result.event_id
    refused.note = f"{result.error_type}: {result.error_message}"
    sent.append(refused)
    poison = Sent("order_placed without orderId, put on the bus", "DEAD-LETTERED", order_id(6),
                  sent_at=time.monotonic())
    poison.event_id = orders.put_on_bus({"customer": poison.order_id, "status": "PLACED"})
    sent.append(poison)
    return sent


def _follow(orders: OrderEvents, tap: BusTap, sent: list[Sent], start, end) -> None:
    on_bus = lambda s: any(e["id"] == s.event_id for e in tap.drain())  # noqa: E731
    for item in sent:
        try:
            if item.expect == "STORED":
                stored = orders.wait_stored(item.order_id, PATIENCE)
                indexed = {i["order_id"] for i in orders.by_type("order_placed", start, end)}
                item.outcome = "STORED" if item.order_id in indexed else "NOT IN GSI"
                item.note = f"GSI order_placed {stored['timestamp']}"
            elif item.expect == "NOT ROUTED":
                eventually(lambda: on_bus(item), PATIENCE, description="the event on the bus")
                never(lambda: orders.stored(item.order_id), during=QUIET)
                item.outcome, item.note = "NOT ROUTED", f"on the bus, not stored for {QUIET:g} s"
            elif item.expect == "REFUSED":
                never(lambda: [e for e in tap.drain()
                               if e["detail"].get("customer") == item.order_id], during=QUIET)
                item.outcome = "REFUSED" if item.event_id is None else "PUBLISHED"
            else:
                letter = eventually(lambda: _dead_letter(orders, item.event_id), PATIENCE,
                                    description="the event in the processor's DLQ")
                item.outcome = "DEAD-LETTERED"
                item.note = letter["MessageAttributes"]["ErrorMessage"]["StringValue"]
        except EventuallyTimeout as exc:
            item.note = str(exc).splitlines()[0]
        except NeverViolated as exc:
            item.outcome, item.note = "ROUTED", str(exc)
        item.seconds = time.monotonic() - item.sent_at


def _dead_letter(orders: OrderEvents, event_id: str | None) -> dict:
    found = [m for m in orders.dead_letters() if json.loads(m["Body"]).get("id") == event_id]
    assert found, "not in the dead-letter queue yet"
    return found[0]


def _report(sent: list[Sent], out: Callable[[str], None]) -> int:
    out(f"{'event':<46} {'expected':<14} {'outcome':<14} {'after':>7}  note")
    for s in sent:
        after = f"{s.seconds:.1f} s" if s.seconds is not None else "-"
        out(f"{s.label:<46} {s.expect:<14} {s.outcome:<14} {after:>7}  {s.note[:110]}")
    good = sum(s.outcome == s.expect for s in sent)
    out(f"order events: {good} of {len(sent)} events where they should be"
        + ("" if good == len(sent) else "; NOT: " + ", ".join(s.label for s in sent
                                                               if s.outcome != s.expect)))
    return 0 if good == len(sent) else 1
