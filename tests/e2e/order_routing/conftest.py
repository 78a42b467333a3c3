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


@pytest.fixture(scope="session")
def routes(localstack, outputs):
    """Shadow taps on the app's bus: ``routes.assert_routes([(entry, targets), ...])``."""
    from harness.routing import BusRoutes

    with BusRoutes(localstack, outputs["EventBusName"]) as found:
        yield found


@pytest.fixture(scope="session")
def notifications(localstack, outputs):
    """Every message published to the notification topic from now on (JSON bodies)."""
    from harness.taps import TopicTap

    tap = TopicTap(localstack, outputs["NotificationTopicArn"])
    yield tap
    tap.close()


@pytest.fixture(scope="session")
def processors(outputs) -> dict[str, str]:
    """Rule source -> the name of the target it promises (a function or the state machine)."""
    return {"orders": outputs["OrderProcessorFunctionName"],
            "inventory": outputs["InventoryProcessorFunctionName"],
            "notifications": outputs["NotificationProcessorFunctionName"],
            "workflow": outputs["StateMachineArn"].rsplit(":", 1)[-1]}
