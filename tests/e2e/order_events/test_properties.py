"""Property-based tests of the deployed order-events app (Hypothesis; examples:
--lsh-fuzz-examples).

Properties: every valid order published is stored as published; an event put on the bus is
stored exactly when the seed's pattern matches it, whatever near miss of source, detail-type and
status it carries.
"""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.pytest_plugin import FUZZ_PROFILE
from harness.waits import never
from infra.order_events.stack import ORDER_PLACED_PATTERN

NEAR_SOURCES = ["custom.myapp", "custom.MyApp", "custom.myapp.v2", "custom.other"]
NEAR_TYPES = ["order_placed", "Order_Placed", "order_placed ", "order_shipped"]
NEAR_STATUSES = ["PLACED", "placed", "PLACED ", "SHIPPED", None]  # None: no status at all


def fuzz():
    return settings(settings.get_profile(FUZZ_PROFILE))


def matches_seed_pattern(source: str, detail_type: str, status: str | None) -> bool:
    return (source in ORDER_PLACED_PATTERN["source"]
            and detail_type in ORDER_PLACED_PATTERN["detail-type"]
            and status in ORDER_PLACED_PATTERN["detail"]["status"])


texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1,
                max_size=40).map(str.strip).filter(bool)
order_payloads = st.fixed_dictionaries({
    "customer": texts,
    "items": st.lists(st.fixed_dictionaries({"id": texts,
                                             "quantity": st.integers(1, 10_000)}),
                      min_size=1, max_size=4),
})


@fuzz()
@given(order=order_payloads)
def test_every_valid_order_is_stored_as_published(orders, order):
    order = {"orderId": f"PROP-{uuid.uuid4().hex[:10]}", **order}
    published = orders.publish(order)
    assert published.event_id, published.error_message
    item = orders.wait_stored(order["orderId"])
    assert item["customer"] == order["customer"] and item["items"] == order["items"]
    assert (item["event_type"], item["status"], item["event_id"]) == (
        "order_placed", "PLACED", published.event_id)


@fuzz()
@given(events=st.lists(st.tuples(st.sampled_from(NEAR_SOURCES), st.sampled_from(NEAR_TYPES),
                                 st.sampled_from(NEAR_STATUSES)), min_size=1, max_size=5))
def test_an_event_is_stored_exactly_when_the_seed_pattern_matches(orders, events):
    expected, unexpected = [], []
    control = ("custom.myapp", "order_placed", "PLACED")  # put last: the processor is working
    for source, detail_type, status in [*events, control]:
        order_id = f"NEAR-{uuid.uuid4().hex[:10]}"
        detail = {"orderId": order_id, "customer": "John Doe",
                  "items": [{"id": "product-123", "quantity": 2}]}
        if status is not None:
            detail["status"] = status
        orders.put_on_bus(detail, detail_type=detail_type, source=source)
        (expected if matches_seed_pattern(source, detail_type, status) else unexpected).append(
            order_id)
    for order_id in expected:
        orders.wait_stored(order_id)
    if unexpected:
        never(lambda: [o for o in unexpected if orders.stored(o)], during=1.5,
              description="an event the seed pattern does not match is stored")
