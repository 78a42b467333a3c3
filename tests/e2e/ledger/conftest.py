"""The ledger (seed 004), deployed once per session into the session's LocalStack."""

from __future__ import annotations

import pytest

from tests.e2e.apps import reference_app
from tests.e2e.ledger.client import LedgerClient

#: a failing projection batch is retried once before it goes to the DLQ
E2E_CONTEXT = {"projection_retries": "1"}


@pytest.fixture(scope="session")
def stack(deploy):
    """The deployed app: ``stack.outputs[...]``."""
    return deploy(reference_app("ledger", E2E_CONTEXT))


@pytest.fixture(scope="session")
def ledger(localstack, stack) -> LedgerClient:
    return LedgerClient(localstack, stack.outputs)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ledger's tests that inject faults into its functions run after its other tests.

    Restoring a faulted function is an update, and LocalStack 4.8.1 can then hold an asynchronous
    invocation back for the function's timeout + 60 s (docs/localstack-divergences.md): the
    replays' deliveries to the projection are asynchronous invocations."""
    here = __name__.rsplit(".", 1)[0]  # tests.e2e.ledger
    mine = [i for i in items if i.module.__name__.startswith(here + ".")]
    faulted = [i for i in mine if "lambda_faults" in getattr(i, "fixturenames", ())]
    if not faulted:
        return
    for item in faulted:
        items.remove(item)
    last = max(i for i, item in enumerate(items) if item in mine)
    items[last + 1:last + 1] = faulted
