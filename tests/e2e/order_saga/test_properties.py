"""Property-based: Hypothesis draws each order's service outcomes for a batch of orders (payment:
ok, exception, broken, decline, timeout; inventory: ok, exception, unavailable, broken), forces
them with the harness's faults, runs the batch at once and checks the saga's invariants:

- every order ends in exactly one final status, the one its outcomes call for, with one execution
  whose ending agrees with the table (COMPLETED: succeeded; PAYMENT_FAILED / CANCELLED: failed in
  PaymentFailed / InventoryFailed);
- every attempt is in the history (a transient exception is retried until it passes);
- no order is both charged and cancelled without a refund; every refund matches a payment of the
  same order; a failed payment charged nothing.
"""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.faults import Fault, FaultInjector
from harness.pytest_plugin import FUZZ_PROFILE
from tests.e2e.order_saga.client import ENDINGS, wait_for_events

#: outcome -> (fault for this order's calls, or None; attempts of the service's state)
PAYMENT = {
    "ok": (None, 1),
    "exception": (lambda key: Fault.raise_error("gateway hiccup", first_calls=2,
                                                when_contains=key), 3),
    "broken": (lambda key: Fault.raise_error("gateway down", when_contains=key), 4),
    "decline": (lambda key: Fault.answer({"status": "FAILED", "reason": "declined (fuzz)"},
                                         when_contains=key), 1),
    "timeout": (lambda key: Fault.timeout(first_calls=1, when_contains=key), 2),
}
INVENTORY = {
    "ok": (None, 1),
    "exception": (lambda key: Fault.raise_error("warehouse hiccup", first_calls=1,
                                                when_contains=key), 2),
    "unavailable": (lambda key: Fault.answer({"status": "UNAVAILABLE", "reason": "fuzz"},
                                             when_contains=key), 1),
    "broken": (lambda key: Fault.raise_error("warehouse down", when_contains=key), 4),
}


def expected_status(payment: str, inventory: str) -> str:
    if payment in ("decline", "broken"):
        return "PAYMENT_FAILED"
    return "CANCELLED" if inventory in ("unavailable", "broken") else "COMPLETED"


outcomes = st.tuples(st.sampled_from(sorted(PAYMENT)), st.sampled_from(sorted(INVENTORY)))


@settings(settings.get_profile(FUZZ_PROFILE))
@given(batch=st.lists(outcomes, min_size=1, max_size=3))
def test_every_order_ends_in_one_final_status_and_money_adds_up(localstack, saga, outputs,
                                                                bus_events, batch):
    keys = [(f"customer-fz-{uuid.uuid4().hex[:8]}", f"prod-fz-{uuid.uuid4().hex[:8]}")
            for _ in batch]
    payment_faults = [PAYMENT[p][0](customer) for (p, _), (customer, _) in zip(batch, keys)
                      if PAYMENT[p][0]]
    inventory_faults = [INVENTORY[i][0](product) for (_, i), (_, product) in zip(batch, keys)
                        if INVENTORY[i][0]]
    injector = FaultInjector(localstack)
    try:
        if payment_faults:
            injector.inject(outputs["PaymentServiceName"], *payment_faults)
        if inventory_faults:
            injector.inject(outputs["InventoryServiceName"], *inventory_faults)
        orders = [saga.place_order(customer_id=c, product_id=p) for c, p in keys]
        paths = [saga.path(order) for order in orders]
    finally:
        injector.restore_all()

    for (payment, inventory), order, path in zip(batch, orders, paths):
        status = expected_status(payment, inventory)
        item = saga.final_item(order)
        assert item["status"] == status, (payment, inventory, path.describe())
        assert len(saga.executions_of(order)) == 1
        assert (path.status, path.error) == ENDINGS[status], path.describe()
        assert path.attempts("ProcessPayment") == PAYMENT[payment][1], path.describe()
        if status != "PAYMENT_FAILED":
            assert path.attempts("ReserveInventory") == INVENTORY[inventory][1], path.describe()

        found = wait_for_events(bus_events, order, ["Notification Sent"])
        charges = [e["detail"] for e in found if e["detail-type"] == "Payment Processed"]
        refunds = [e["detail"] for e in found if e["detail-type"] == "Payment Refunded"]
        assert all(r["paymentId"] in {c["paymentId"] for c in charges} for r in refunds)
        if status == "PAYMENT_FAILED":
            assert not charges and not refunds and "paymentId" not in item
        if status == "CANCELLED":
            assert charges and refunds and item["refundId"] == refunds[-1]["refundId"]
            assert item["paymentId"] == refunds[-1]["paymentId"]
        if status == "COMPLETED":
            assert not refunds and item["paymentId"] == charges[-1]["paymentId"]
