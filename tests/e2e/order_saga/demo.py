"""The order saga's demo scenario (``make demo order_saga``): the seed's sample order down each
branch of the saga, each branch forced with the harness's faults, under virtual Step Functions
time. Prints one row per order (branch, path, attempts, final status, time) and one summary line;
0 only when every order ended where it should.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Callable

from harness.deploy import CdkApp
from harness.faults import Fault, FaultInjector
from harness.localstack import LocalStack
from harness.stepfunctions import time_scale
from harness.waits import EventuallyTimeout
from tests.e2e.apps import reference_app
from tests.e2e.order_saga.client import SagaClient
from tests.e2e.order_saga.context import E2E_CONTEXT, TIME_SCALE

TITLE = ("order saga (seed 002): Order -> bus -> Step Functions: payment, inventory, "
         "notification, refund as compensation")


def app() -> CdkApp:
    return reference_app("order_saga", E2E_CONTEXT)


@dataclass
class Branch:
    name: str
    expect: str
    #: (output name of the function, fault for this order's key) or None for no fault
    fault: Callable[[str, str], tuple[str, Fault]] | None = None


BRANCHES = [
    Branch("happy path", "COMPLETED"),
    Branch("payment flaky twice", "COMPLETED", lambda c, p: ("PaymentServiceName", Fault.raise_error(
        "gateway hiccup", first_calls=2, when_contains=c))),
    Branch("payment declined", "PAYMENT_FAILED", lambda c, p: ("PaymentServiceName", Fault.answer(
        {"status": "FAILED", "reason": "card declined (demo)"}, when_contains=c))),
    Branch("inventory unavailable", "CANCELLED", lambda c, p: ("InventoryServiceName", Fault.answer(
        {"status": "UNAVAILABLE", "reason": "out of stock (demo)"}, when_contains=p))),
    Branch("notification fails", "COMPLETED", lambda c, p: ("NotificationServiceName",
                                                           Fault.raise_error("smtp down",
                                                                             when_contains=c))),
]


def _errors(path, state: str) -> str:
    """The distinct errors of a state's failed attempts, e.g. ``RuntimeError``."""
    return "/".join(dict.fromkeys(e["error"] for run in path.runs_of(state) for e in run.errors))


def scenario(localstack: LocalStack, deployed, out=print) -> int:
    """Place the sample order once per branch, follow each, print the table and summary."""
    saga = SagaClient(localstack, deployed.outputs)
    keys = [(f"customer-demo-{uuid.uuid4().hex[:6]}", f"prod-demo-{uuid.uuid4().hex[:6]}")
            for _ in BRANCHES]
    faults: dict[str, list[Fault]] = {}
    for branch, (customer, product) in zip(BRANCHES, keys):
        if branch.fault:
            output, fault = branch.fault(customer, product)
            faults.setdefault(deployed.outputs[output], []).append(fault)
    injector = FaultInjector(localstack)
    rows, ok = [], 0
    started = time.monotonic()
    with time_scale(localstack, TIME_SCALE):
        try:
            for function, function_faults in faults.items():
                injector.inject(function, *function_faults)
            orders = [saga.place_order(customer_id=c, product_id=p) for c, p in keys]
            for branch, order in zip(BRANCHES, orders):
                try:
                    path = saga.path(order, timeout=60)
                    status = saga.final_item(order)["status"]
                except EventuallyTimeout as exc:
                    path, status = None, f"STUCK ({exc})"
                good = status == branch.expect
                ok += good
                retries = "" if path is None else ", ".join(
                    f"{s}x{path.attempts(s)} ({_errors(path, s)})"
                    for s in dict.fromkeys(path.states) if path.attempts(s) > 1)
                rows.append((branch.name, " > ".join(path.states) if path else "-",
                             retries or "-", status, "ok" if good else f"EXPECTED {branch.expect}"))
        finally:
            injector.restore_all()
    took = time.monotonic() - started
    width = max(len(r[0]) for r in rows)
    out(f"{'branch':<{width}}  {'final status':<15}  path; retried states (errors)")
    for name, path_text, retries, status, verdict in rows:
        out(f"{name:<{width}}  {status:<15}  {path_text}; {retries}  [{verdict}]")
    out(f"{ok} of {len(BRANCHES)} orders ended where they should, in {took:.1f} s "
        f"(Step Functions time x{TIME_SCALE})")
    return 0 if ok == len(BRANCHES) else 1
