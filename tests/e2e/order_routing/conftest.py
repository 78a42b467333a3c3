"""The order-routing app (seed 001), deployed once per session into the session's LocalStack."""

from __future__ import annotations

import pytest

from tests.e2e.apps import reference_app

#: queue retries 4 s apart (poison reaches its DLQ in ~12 s); a failed asynchronous invocation
#: goes to the on-failure destination at once instead of after Lambda's two retries (minutes)
E2E_CONTEXT = {"retry_delay_seconds": "4", "async_retry_attempts": "0"}


@pytest.fixture(scope="session")
def stack(deploy):
    """The deployed app: ``stack.outputs[...]``."""
    return deploy(reference_app("order_routing", E2E_CONTEXT))


@pytest.fixture(scope="session")
def outputs(stack) -> dict[str, str]:
    return stack.outputs
