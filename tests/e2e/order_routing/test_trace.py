"""The stuck-event trace across this app: from the bus (put, rule, target) into a state machine
(execution started, the state it failed in) and the processors; and as a wait's diagnosis."""

from __future__ import annotations

import pytest

from harness.faults import Fault
from harness.waits import EventuallyTimeout, eventually
from tests.e2e.order_routing.samples import WORKFLOW_TRIGGERED, entry, unique
from tests.e2e.order_routing.trace import routing_tracer


def stage(trace, name):
    [found] = [s for s in trace.stages if s.name == name]
    return found


def test_a_failed_workflow_is_traced_from_the_bus_to_the_failing_state(localstack, outputs,
                                                                      lambda_faults):
    workflow = unique(WORKFLOW_TRIGGERED, workflow_id="WF-TRACE-", order_id="ORD-TRACE-")
    needle = workflow[2]["workflow_id"]
    lambda_faults.inject(outputs["OrderProcessorFunctionName"],
                         Fault.raise_error("orders service down", when_contains=needle))
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
    assert stage(trace, "workflow started").reached, text
    failed = stage(trace, "workflow state").detail
    assert failed.startswith("FAILED in ") and "OrderProcessingFailed" in failed, text
    assert "orders service down" in failed or "OrderNotFound" in failed, text


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
