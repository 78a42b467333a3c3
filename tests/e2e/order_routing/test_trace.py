"""The stuck-event trace across this app: from the bus (put, rule, target) into a state machine
(execution started, the state it failed in) and the processors; and as a wait's diagnosis."""

from __future__ import annotations

import pytest

from harness.waits import EventuallyTimeout, eventually
from tests.e2e.order_routing.samples import WORKFLOW_TRIGGERED, entry, unique
from tests.e2e.order_routing.trace import routing_tracer


def stage(trace, name):
    [found] = [s for s in trace.stages if s.name == name]
    return found


def test_a_failed_workflow_is_traced_from_the_bus_to_the_failing_state(localstack, outputs):
    """A workflow for an order that does not exist: both branches fail (whichever first fails
    the Parallel), and the trace names the branch's failure state and the reason."""
    workflow = unique(WORKFLOW_TRIGGERED, workflow_id="WF-TRACE-", order_id="ORD-TRACE-")
    needle = workflow[2]["workflow_id"]
    localstack.client("events").put_events(Entries=[entry(outputs["EventBusName"], workflow)])
    tracer = routing_tracer(localstack, outputs)

    def ended():
        trace = tracer.trace(needle)
        assert stage(trace, "workflow state").reached is False, trace.render()
        return trace

    trace = eventually(ended, 30, description=f"the trace of {needle} to a failed state")
    text = trace.render()
    assert stage(trace, "bus: put").reached and stage(trace, "bus: rule matched").reached, text
    assert "WorkflowEventsRule" in stage(trace, "bus: rule matched").detail, text
    assert stage(trace, "bus: target sent").reached, text
    assert stage(trace, "bus: target DLQ").reached is None, text  # nothing failed to deliver
    assert stage(trace, "workflow started").reached, text
    failed = stage(trace, "workflow state").detail
    assert failed.startswith("FAILED in "), text  # the Parallel (or the branch state in it)
    assert ("OrderProcessingFailed" in failed or "InventoryProcessingFailed" in failed), text
    assert f"order '{workflow[2]['order_id']}' is not in the orders table" in failed, text


def test_a_wait_that_times_out_shows_where_the_event_is(localstack, outputs):
    near_miss = ("workflow", "Workflow Started", {"workflow_id": "WF-NEVER", "order_id": "x"})
    localstack.client("events").put_events(Entries=[entry(outputs["EventBusName"], near_miss)])
    tracer = routing_tracer(localstack, outputs)
    with pytest.raises(EventuallyTimeout) as timed_out:
        eventually(lambda: tracer.trace("WF-NEVER").stages[-2].reached, 1.5,
                   description="an execution for WF-NEVER",
                   diagnose=lambda: tracer.trace("WF-NEVER").render())
    diagnosis = timed_out.value.diagnosis
    assert "✔ bus: put" in diagnosis and "✘ bus: rule matched" in diagnosis, diagnosis
    assert "no rule of the bus matched it (source 'workflow', detail-type 'Workflow Started')" \
        in diagnosis
