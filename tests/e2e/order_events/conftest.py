"""The order-events app (seed 000), deployed once per session into the session's LocalStack."""

from __future__ import annotations

import pytest

from harness.taps import BusTap
from tests.e2e.apps import reference_app
from tests.e2e.order_events.client import OrderEvents

#: a failed processor event goes to the dead-letter queue at once (no async retries)
E2E_CONTEXT = {"processor_retry_attempts": "0"}


@pytest.fixture(scope="session")
def stack(deploy):
    """The deployed app: ``stack.outputs[...]``."""
    return deploy(reference_app("order_events", E2E_CONTEXT))


@pytest.fixture(scope="session")
def orders(localstack, stack) -> OrderEvents:
    return OrderEvents(localstack, stack.outputs)


@pytest.fixture(scope="session")
def bus_tap(localstack, stack):
    """Every event put on the app's bus, in order."""
    with BusTap(localstack, stack.outputs["OrderEventBusName"]) as tap:
        yield tap
