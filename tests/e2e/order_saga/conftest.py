"""The order saga (seed 002), deployed once per session into the session's LocalStack, with
virtual Step Functions time while this package runs (see ``context.py``)."""

from __future__ import annotations

import os

import pytest

from harness.stepfunctions import time_scale
from harness.taps import BusTap
from tests.e2e.apps import reference_app
from tests.e2e.order_saga.client import SagaClient
from tests.e2e.order_saga.context import E2E_CONTEXT, TIME_SCALE


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
    every backend; the previous scale is back afterwards, for other apps' tests).
    ``LSH_SAGA_TIME_SCALE=1`` runs the package in real time (``bench/saga.py`` compares both)."""
    scale = float(os.environ.get("LSH_SAGA_TIME_SCALE") or TIME_SCALE)
    with time_scale(localstack, scale):
        yield scale


@pytest.fixture(scope="session")
def saga(localstack, outputs) -> SagaClient:
    return SagaClient(localstack, outputs)


@pytest.fixture(scope="session")
def bus_events(localstack, outputs):
    """Every event on the saga's bus from now on, in the order the bus handled them."""
    tap = BusTap(localstack, outputs["EventBusName"])
    yield tap
    tap.close()
