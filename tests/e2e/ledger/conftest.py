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
