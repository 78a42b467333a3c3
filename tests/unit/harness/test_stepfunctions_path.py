"""harness.stepfunctions.path_from_history on histories shaped as LocalStack 4.8.1 writes them
(ids and previousEventIds as seen), without LocalStack."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from harness.stepfunctions import ExecutionPath, assert_saga, path_from_history

T0 = datetime(2026, 1, 1)


def history(*rows: tuple) -> list[dict]:
    """``(id, previous id, type, details)`` rows -> history events, 10 ms apart."""
    events = []
    for event_id, previous, kind, details in rows:
        event = {"id": event_id, "previousEventId": previous, "type": kind,
                 "timestamp": T0 + timedelta(milliseconds=10 * event_id)}
        if details:
            event["someEventDetails"] = details
        events.append(event)
    return events


def test_parallel_branches_and_the_state_after_them():
    path = path_from_history(history(  # as LocalStack 4.8.1 wrote it (seen)
        (1, 0, "ExecutionStarted", {}),
        (2, 0, "ParallelStateEntered", {"name": "Both"}),
        (3, 2, "ParallelStateStarted", {}),
        (4, 3, "PassStateEntered", {"name": "A1"}),
        (5, 3, "PassStateEntered", {"name": "B1"}),
        (6, 4, "PassStateExited", {"name": "A1"}),
        (7, 6, "PassStateEntered", {"name": "A2"}),
        (8, 5, "PassStateExited", {"name": "B1"}),
        (9, 7, "PassStateExited", {"name": "A2"}),
        (10, 9, "ParallelStateSucceeded", {}),
        (11, 9, "ParallelStateExited", {"name": "Both", "output": "[1, 2]"}),
        (12, 11, "PassStateEntered", {"name": "After"}),
        (13, 12, "PassStateExited", {"name": "After", "output": "{\"ok\": true}"}),
        (14, 13, "ExecutionSucceeded", {"output": "{\"ok\": true}"})))

    assert path.status == "SUCCEEDED" and path.output == {"ok": True}
    assert path.states == ["Both", "After"]
    both = path.runs_of("Both")[0]
    assert both.exited and both.output == [1, 2]
    assert [b.states for b in both.branches] == [["A1", "A2"], ["B1"]]


def test_each_map_iteration_is_a_branch_even_when_one_worker_runs_several():
    """LocalStack 4.8.1's Map workers take the next item when done with one: that iteration's
    MapIterationStarted points at the previous iteration's last event (seen under load)."""
    path = path_from_history(history(
        (1, 0, "ExecutionStarted", {}),
        (2, 0, "MapStateEntered", {"name": "Each"}),
        (3, 2, "MapStateStarted", {}),
        (4, 3, "MapIterationStarted", {"index": 0}),
        (5, 4, "PassStateEntered", {"name": "I1"}),
        (6, 3, "MapIterationStarted", {"index": 1}),
        (7, 5, "PassStateExited", {"name": "I1"}),
        (8, 6, "PassStateEntered", {"name": "I1"}),
        (9, 7, "PassStateEntered", {"name": "I2"}),
        (10, 8, "PassStateExited", {"name": "I1"}),
        (11, 9, "PassStateExited", {"name": "I2"}),
        (12, 11, "MapIterationSucceeded", {"index": 0}),
        (13, 11, "MapIterationStarted", {"index": 2}),  # worker 1's next item
        (14, 10, "PassStateEntered", {"name": "I2"}),
        (15, 13, "PassStateEntered", {"name": "I1"}),
        (16, 14, "PassStateExited", {"name": "I2"}),
        (17, 16, "MapIterationSucceeded", {"index": 1}),
        (18, 15, "PassStateExited", {"name": "I1"}),
        (19, 18, "PassStateEntered", {"name": "I2"}),
        (20, 19, "PassStateExited", {"name": "I2"}),
        (21, 20, "MapIterationSucceeded", {"index": 2}),
        (22, 20, "MapStateSucceeded", {}),
        (23, 20, "MapStateExited", {"name": "Each", "output": "[1, 2, 3]"}),
        (24, 23, "PassStateEntered", {"name": "After"}),
        (25, 24, "PassStateExited", {"name": "After", "output": "[1, 2, 3]"}),
        (26, 25, "ExecutionSucceeded", {"output": "[1, 2, 3]"})))

    assert path.states == ["Each", "After"]
    assert [b.states for b in path.runs_of("Each")[0].branches] == [["I1", "I2"]] * 3
    assert path.output == [1, 2, 3]


def test_retries_are_attempts_with_their_errors_and_the_failure_is_reported():
    path = path_from_history(history(
        (1, 0, "ExecutionStarted", {}),
        (2, 0, "TaskStateEntered", {"name": "Charge"}),
        (3, 2, "LambdaFunctionScheduled", {}),
        (4, 3, "LambdaFunctionStarted", {}),
        (5, 4, "LambdaFunctionFailed", {"error": "RuntimeError", "cause": "down"}),
        (6, 5, "LambdaFunctionScheduled", {}),
        (7, 6, "LambdaFunctionStarted", {}),
        (8, 7, "LambdaFunctionFailed", {"error": "RuntimeError", "cause": "down"}),
        (9, 8, "ExecutionFailed", {"error": "RuntimeError", "cause": "down"})))

    assert path.status == "FAILED" and path.failed_state == "Charge"
    assert path.attempts("Charge") == 2 and path.runs[0].retry_gaps == [0.03]
    assert [e["error"] for e in path.runs[0].errors] == ["RuntimeError"] * 2
    assert (path.error, path.cause) == ("RuntimeError", "down")
    assert path.last_events[-1] == "9 ExecutionFailed error=RuntimeError cause=down"
    text = path.describe()
    assert "Charge (Task) x2 errors=['RuntimeError', 'RuntimeError'] [not exited]" in text
    assert "failed in Charge: RuntimeError: down" in text


def saga_path(*states: str) -> ExecutionPath:
    rows, n = [(1, 0, "ExecutionStarted", {})], 1
    for state in states:
        rows += [(n + 1, n, "PassStateEntered", {"name": state}),
                 (n + 2, n + 1, "PassStateExited", {"name": state})]
        n += 2
    rows.append((n + 1, n, "ExecutionSucceeded", {}))
    return path_from_history(history(*rows))


def test_assert_saga_wants_compensations_after_the_steps_in_order():
    path = saga_path("Pay", "Reserve", "Refund", "Cancel")
    assert_saga(path, steps=["Pay", "Reserve"], compensations=["Refund", "Cancel"],
                not_entered=["Ship"], status="SUCCEEDED")
    with pytest.raises(AssertionError, match=r"compensations \['Refund'\] ran before"):
        assert_saga(saga_path("Pay", "Refund", "Reserve", "Refund"), steps=["Pay", "Reserve"],
                    compensations=["Refund"])
    with pytest.raises(AssertionError, match=r"expected \['Refund'\] not to be entered"):
        assert_saga(path, steps=["Pay"], not_entered=["Refund"])
    with pytest.raises(AssertionError, match="expected status FAILED"):
        assert_saga(path, steps=["Pay"], status="FAILED")
