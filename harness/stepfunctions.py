"""Step Functions helpers: find an execution, wait for it to end, read its path, assert on it.

    arn = wait_for_started_execution(sfn, machine_arn, lambda doc: doc["orderId"] == order_id)
    path = wait_for_path(sfn, arn)
    path.assert_status("SUCCEEDED")
    path.assert_states(["ProcessPayment", "CheckPaymentStatus", ...])
    assert path.attempts("ProcessPayment") == 3

An :class:`ExecutionPath` is read from the execution's history: the states entered, in order
(each :class:`StateRun` with its attempts, i.e. how many times a Task was scheduled, retries
included, their times and errors, and its output); the states of each branch of a Parallel or
iteration of a Map as a path of their own (:attr:`StateRun.branches`); the execution's output,
or on failure the failed state, error, cause and the last history events.

:func:`assert_saga` checks a saga's path in one call: which forward steps ran, which
compensations ran (after the steps they undo, in reverse order), how many attempts each took.

:func:`time_scale` sets the time scale of Step Functions waits and retry intervals in the
harness's LocalStack (``lsh_localstack_plugins.sfn_time``; ``LSH_SFN_TIME_SCALE`` at start).
"""

from __future__ import annotations

import json
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

from harness.probes import wait_for_execution
from harness.waits import EventuallyTimeout, Policy, eventually

#: history event types that start one attempt of a Task (a retry schedules it again)
ATTEMPT_TYPES = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
#: history event types that end one attempt of a Task unsuccessfully
ATTEMPT_FAILURE_TYPES = frozenset({
    "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
    "LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed", "ActivityFailed", "ActivityTimedOut", "ActivityScheduleFailed",
})
#: event types after which the next events belong to a new branch / iteration
_FORK_TYPES = frozenset({"ParallelStateStarted", "MapStateStarted"})
_JOIN_TYPES = frozenset({"ParallelStateSucceeded", "ParallelStateFailed", "ParallelStateAborted",
                         "MapStateSucceeded", "MapStateFailed", "MapStateAborted"})
_FORK_EXIT_TYPES = frozenset({"ParallelStateExited", "MapStateExited"})
#: how many history events a failure report shows
LAST_EVENTS = 8


@dataclass
class StateRun:
    """One entry into a state: its name and type, its attempts (Tasks: one per scheduling, so
    retries count; other states: 0), when each attempt started, each failed attempt's error, and
    what it gave on exit (``None`` if it never exited, e.g. it failed)."""

    name: str
    type: str
    entered_at: datetime
    input: Any = None
    attempt_times: list[datetime] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    exited: bool = False
    output: Any = None
    branches: list["ExecutionPath"] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return len(self.attempt_times)

    @property
    def retry_gaps(self) -> list[float]:
        """Seconds between the starts of consecutive attempts (the retry intervals, plus the
        attempts' own run time)."""
        times = self.attempt_times
        return [(b - a).total_seconds() for a, b in zip(times, times[1:])]


@dataclass
class ExecutionPath:
    """What an execution (or one branch of a Parallel / iteration of a Map) went through."""

    runs: list[StateRun]
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    last_events: list[str] = field(default_factory=list)
    execution_arn: str | None = None

    # --- reading ---------------------------------------------------------------------------
    @property
    def states(self) -> list[str]:
        """Names of the states entered, in order (a state entered twice appears twice)."""
        return [run.name for run in self.runs]

    def runs_of(self, state: str) -> list[StateRun]:
        return [run for run in self.runs if run.name == state]

    def attempts(self, state: str) -> int:
        """Attempts of ``state`` over all its entries (Tasks: schedulings, retries included)."""
        return sum(run.attempts for run in self.runs_of(state))

    def ran(self, state: str) -> bool:
        return any(run.name == state for run in self.runs)

    @property
    def failed_state(self) -> str | None:
        """The state the execution failed in: the last one entered that did not exit."""
        if self.status == "SUCCEEDED":
            return None
        for run in reversed(self.runs):
            if not run.exited:
                return run.name
        return self.runs[-1].name if self.runs else None

    def describe(self) -> str:
        """A few lines: status, each state with its attempts, the failure, the last events."""
        lines = [f"execution {self._short_name()}: {self.status}"]
        lines += _describe_runs(self.runs, "  ")
        if self.error or self.cause:
            lines.append(f"  failed in {self.failed_state}: {self.error}: {_clip(self.cause)}")
        if self.status != "SUCCEEDED" and self.last_events:
            lines.append("  last history events:")
            lines += [f"    {line}" for line in self.last_events]
        return "\n".join(lines)

    __str__ = describe

    def _short_name(self) -> str:
        return (self.execution_arn or "?").rsplit(":", 1)[-1]

    # --- assertions (AssertionError with the whole path on failure) -------------------------
    def _fail(self, message: str) -> None:
        raise AssertionError(f"{message}\n{self.describe()}")

    def assert_status(self, status: str) -> "ExecutionPath":
        if self.status != status:
            self._fail(f"expected status {status}, got {self.status}")
        return self

    def assert_states(self, expected: Sequence[str]) -> "ExecutionPath":
        """The states entered are exactly ``expected``, in that order."""
        if self.states != list(expected):
            self._fail(f"expected states {list(expected)}, got {self.states}")
        return self

    def assert_ran_in_order(self, *states: str) -> "ExecutionPath":
        """``states`` were all entered, in this order (others may come between)."""
        position = 0
        for state in states:
            try:
                position = self.states.index(state, position) + 1
            except ValueError:
                self._fail(f"expected {list(states)} in this order; {state!r} missing after "
                           f"position {position}")
        return self

    def assert_not_entered(self, *states: str) -> "ExecutionPath":
        entered = [s for s in states if self.ran(s)]
        if entered:
            self._fail(f"expected {entered} not to be entered")
        return self

    def assert_attempts(self, **expected: int) -> "ExecutionPath":
        """``assert_attempts(ProcessPayment=3)``: attempts per state (retries included)."""
        actual = {state: self.attempts(state) for state in expected}
        if actual != expected:
            self._fail(f"expected attempts {expected}, got {actual}")
        return self


def _clip(text: str | None, limit: int = 300) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "..."


def _describe_runs(runs: list[StateRun], indent: str) -> list[str]:
    lines = []
    for run in runs:
        extra = f" x{run.attempts}" if run.attempts > 1 else ""
        errors = f" errors={[e.get('error') for e in run.errors]}" if run.errors else ""
        lines.append(f"{indent}{run.name} ({run.type}){extra}{errors}"
                     + ("" if run.exited else " [not exited]"))
        for number, branch in enumerate(run.branches):
            lines.append(f"{indent}  branch {number}:")
            lines += _describe_runs(branch.runs, indent + "    ")
    return lines


def _details(event: dict) -> dict:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _summary(event: dict) -> str:
    details = _details(event)
    bits = [f"{event['id']} {event['type']}"]
    for key in ("name", "error", "cause", "resource"):
        if details.get(key):
            bits.append(f"{key}={_clip(str(details[key]), 160)}")
    return " ".join(bits)


def history(sfn, execution_arn: str) -> list[dict]:
    """The execution's whole history, oldest first."""
    events: list[dict] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return sorted(events, key=lambda e: e["id"])


def path_from_history(events: list[dict], execution_arn: str | None = None) -> ExecutionPath:
    """The :class:`ExecutionPath` an execution's history events describe.

    Branches are told apart by ``previousEventId``: the first event of each branch (or Map
    iteration) points at its ``ParallelStateStarted``/``MapStateStarted``, later ones at their
    branch's previous event; a ``...Succeeded``/``...Failed`` of the Parallel closes its branches
    (its ``...StateExited`` points at a branch's last event, yet belongs outside). A Map worker
    that runs several iterations chains each ``MapIterationStarted`` to the last event of its
    previous iteration: that starts a new branch of the Map too.
    """
    by_id = {e["id"]: e for e in events}
    scope_of: dict[int, tuple] = {}     # event id -> (branch keys from the top)
    fork_of: dict[int, int] = {}        # branch key (first event id) -> its fork event id
    open_forks: list[int] = []          # fork events whose Parallel/Map has not joined yet

    joined: list[int] = []              # forks joined whose ...StateExited has not come yet

    def scope(event: dict) -> tuple:
        if event["type"] in _JOIN_TYPES and open_forks:
            joined.append(open_forks.pop())
            return scope_of[joined[-1]]
        if event["type"] in _FORK_EXIT_TYPES and (joined or open_forks):
            # its previousEventId is a branch's last event: it belongs outside, with its fork
            return scope_of[joined.pop() if joined else open_forks.pop()]
        previous = by_id.get(event.get("previousEventId") or 0)
        if previous is None:
            return ()
        if previous["type"] in _FORK_TYPES:
            fork_of[event["id"]] = previous["id"]
            return scope_of[previous["id"]] + (event["id"],)
        inside = scope_of.get(previous["id"], ())
        if event["type"] == "MapIterationStarted" and inside and inside[-1] in fork_of:
            # a Map worker's next iteration chains to the last event of the one it ran before:
            # a new branch of the same Map, not more of that one
            fork_of[event["id"]] = fork_of[inside[-1]]
            return inside[:-1] + (event["id"],)
        return inside

    top = ExecutionPath(runs=[], execution_arn=execution_arn)
    paths: dict[tuple, ExecutionPath] = {(): top}
    current: dict[tuple, StateRun] = {}
    run_of_fork: dict[int, StateRun] = {}
    for event in events:
        kind, details = event["type"], _details(event)
        here = scope_of[event["id"]] = scope(event)
        if kind in _FORK_TYPES:
            open_forks.append(event["id"])
            if here in current:
                run_of_fork[event["id"]] = current[here]
        if here not in paths:  # a new branch: hang it under the Parallel/Map state that forked it
            paths[here] = ExecutionPath(runs=[])
            parent_run = run_of_fork.get(fork_of.get(here[-1], -1))
            if parent_run is not None:
                parent_run.branches.append(paths[here])
        path = paths[here]
        if kind.endswith("StateEntered"):
            run = StateRun(name=details.get("name", "?"), type=kind[: -len("StateEntered")],
                           entered_at=event["timestamp"], input=_json(details.get("input")))
            path.runs.append(run)
            current[here] = run
        elif kind.endswith("StateExited") and here in current:
            current[here].exited = True
            current[here].output = _json(details.get("output"))
        elif kind in ATTEMPT_TYPES and here in current:
            current[here].attempt_times.append(event["timestamp"])
        elif kind in ATTEMPT_FAILURE_TYPES and here in current:
            current[here].errors.append({"error": details.get("error", ""),
                                         "cause": details.get("cause", "")})
        elif kind == "ExecutionSucceeded":
            top.status, top.output = "SUCCEEDED", _json(details.get("output"))
        elif kind in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            top.status = {"ExecutionFailed": "FAILED", "ExecutionAborted": "ABORTED",
                          "ExecutionTimedOut": "TIMED_OUT"}[kind]
            top.error, top.cause = details.get("error"), details.get("cause")
    top.last_events = [_summary(e) for e in events[-LAST_EVENTS:]]
    return top


def execution_path(sfn, execution_arn: str) -> ExecutionPath:
    """The path of the execution so far (it may still be running)."""
    return path_from_history(history(sfn, execution_arn), execution_arn)


def wait_for_path(sfn, execution_arn: str, timeout: float | None = None) -> ExecutionPath:
    """Wait for the execution to end (:func:`harness.probes.wait_for_execution`), then its path.

    The status and output come from ``DescribeExecution`` (the history agrees once it ended). If
    it does not end in time, the :class:`~harness.waits.EventuallyTimeout` carries the path so
    far as its diagnosis (the pytest plugin shows it as a report section)."""
    try:
        description = wait_for_execution(sfn, execution_arn, timeout)
    except EventuallyTimeout as exc:  # say where it is stuck: the path so far
        raise EventuallyTimeout(exc.description, exc.timeout, exc.attempts, exc.last,
                                f"path so far:\n{execution_path(sfn, execution_arn)}") from exc
    path = execution_path(sfn, execution_arn)
    path.status = description["status"]
    if "output" in description:
        path.output = _json(description["output"])
    path.error = description.get("error", path.error)
    path.cause = description.get("cause", path.cause)
    return path


def wait_for_started_execution(sfn, state_machine_arn: str,
                               matches: Callable[[Any], bool] | str,
                               timeout: float | None = None) -> str:
    """The ARN of the execution of ``state_machine_arn`` whose input matches: ``matches(input)``
    on the parsed input, or a string the input's JSON contains. For executions something else
    started (an EventBridge rule, a pipe): waits until one appears."""
    check = matches if callable(matches) else (lambda doc: matches in json.dumps(doc))
    seen: set[str] = set()

    def find() -> str:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
        for page in pages:
            for execution in page["executions"]:
                arn = execution["executionArn"]
                if arn in seen:
                    continue
                described = sfn.describe_execution(executionArn=arn)
                seen.add(arn)
                if check(_json(described.get("input"))):
                    return arn
        raise AssertionError(f"{len(seen)} execution(s), none with a matching input")

    return eventually(find, timeout, policy=Policy(initial=0.02, cap=0.25),
                      description=f"an execution of {state_machine_arn.rsplit(':', 1)[-1]}")


def assert_saga(path: ExecutionPath, *, steps: Sequence[str],
                compensations: Sequence[str] = (), not_entered: Sequence[str] = (),
                attempts: dict[str, int] | None = None, status: str | None = None) -> None:
    """A saga's path: the forward ``steps`` ran in this order; the ``compensations`` ran, in
    this order, all after the last forward step; none of ``not_entered`` ran; ``attempts`` per
    state (retries included); the execution ended with ``status`` (if given)."""
    if status is not None:
        path.assert_status(status)
    path.assert_ran_in_order(*steps, *compensations)
    known_compensations = set(compensations)
    last_step = max((i for i, s in enumerate(path.states) if s in steps), default=-1)
    early = [s for s in path.states[: last_step + 1] if s in known_compensations]
    if early:
        path._fail(f"compensations {early} ran before the last forward step")
    path.assert_not_entered(*not_entered)
    if attempts:
        path.assert_attempts(**attempts)


# --- virtual time ---------------------------------------------------------------------------
TIME_SCALE_ROUTE = "/_lsh/sfn/time-scale"


def get_time_scale(localstack) -> float:
    """The factor LocalStack applies to Step Functions waits and retry intervals (1 = real)."""
    with urllib.request.urlopen(localstack.endpoint_url + TIME_SCALE_ROUTE, timeout=10) as resp:
        return float(json.load(resp)["scale"])


def set_time_scale(localstack, scale: float) -> float:
    """Set the factor (e.g. 0.001: a 2 s retry interval lasts 2 ms); returns the previous one.

    Applies to waits and retry intervals that start after the call, in every execution."""
    if not scale > 0:
        raise ValueError(f"time scale must be > 0, got {scale!r}: use 1 for real time")
    request = urllib.request.Request(localstack.endpoint_url + TIME_SCALE_ROUTE, method="PUT",
                                     data=json.dumps({"scale": scale}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return float(json.load(resp)["previous"])


@contextmanager
def time_scale(localstack, scale: float) -> Iterator[float]:
    """``with time_scale(localstack, 0.001): ...``: virtual time inside, the old scale after."""
    previous = set_time_scale(localstack, scale)
    try:
        yield scale
    finally:
        set_time_scale(localstack, previous)


__all__ = ["ExecutionPath", "StateRun", "history", "path_from_history", "execution_path",
           "wait_for_path", "wait_for_started_execution", "assert_saga", "get_time_scale",
           "set_time_scale", "time_scale"]
