"""The order saga (seed 002), deployed once per session into the session's LocalStack.

Its e2e context makes the seed's simulations deterministic (every payment and reservation
succeeds unless a test forces a branch with the harness's faults) and the functions' timeout
short (a forced timeout costs 3 s, not 30). The retries keep the seed's backoff (2 s × 2.0,
3 retries): the package runs with virtual Step Functions time instead (``saga_time``).
"""

from __future__ import annotations

import pytest

from harness.stepfunctions import time_scale
from harness.taps import BusTap
from tests.e2e.apps import reference_app
from tests.e2e.order_saga.client import SagaClient

E2E_CONTEXT = {"payment_success_rate": "1", "inventory_availability_rate": "1",
               "function_timeout_seconds": "3"}
#: Step Functions waits and retry intervals last a thousandth of their time in these tests
TIME_SCALE = 0.001


@pytest.fixture(scope="session")
def stack(deploy):
    """The deployed app: ``stack.outputs[...]``."""
    return deploy(reference_app("order_saga", E2E_CONTEXT))


@pytest.fixture(scope="session")
def outputs(stack) -> dict[str, str]:
    return stack.outputs


@pytest.fixture(scope="package", autouse=True)
def saga_time(localstack):
    """Virtual time while this package runs (set through LocalStack's route, so it works on
    every backend; the previous scale is back afterwards, for other apps' tests)."""
    with time_scale(localstack, TIME_SCALE):
        yield TIME_SCALE


@pytest.fixture(scope="session")
def saga(localstack, outputs) -> SagaClient:
    return SagaClient(localstack, outputs)


@pytest.fixture(scope="session")
def bus_events(localstack, outputs):
    """Every event on the saga's bus from now on, in the order the bus handled them."""
    tap = BusTap(localstack, outputs["EventBusName"])
    yield tap
    tap.close()
