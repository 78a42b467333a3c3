"""Step Functions stages for :class:`harness.trace.Tracer`: an execution started with the event
in its input, and the last state it reached (in every branch of a Parallel), or where it failed.

Both read the execution's history through :mod:`harness.stepfunctions`::

    Tracer(localstack, [ExecutionStarted("workflow started", machine_arn),
                        StateReached("workflow state", machine_arn)])
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.stepfunctions import ExecutionPath, execution_path
from harness.trace import Stage, TraceContext

#: at most this many of the newest executions are searched
SEARCH_LIMIT = 200


def _mentions(text: str | None, needles: set[str]) -> bool:
    return bool(text) and any(n in text for n in needles)


def _execution(ctx: TraceContext, machine_arn: str) -> dict[str, Any] | None:
    """The newest execution whose input mentions a needle (described; cached per trace)."""
    key = f"sfn:{machine_arn}"
    if key not in ctx.facts:
        sfn = ctx.client("stepfunctions")
        found, searched = None, 0
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
            for summary in page["executions"]:
                searched += 1
                described = sfn.describe_execution(executionArn=summary["executionArn"])
                if _mentions(described.get("input"), ctx.needles):
                    found = described
                    break
            if found or searched >= SEARCH_LIMIT:
                break
        ctx.facts[key] = found
        ctx.facts[f"{key}:searched"] = searched
    return ctx.facts[key]


def _last_states(path: ExecutionPath) -> str:
    """The last state entered, with the last state of each branch of a Parallel/Map in it."""
    if not path.runs:
        return "no state entered"
    last = path.runs[-1]
    text = last.name
    if last.branches:
        text += " [" + " | ".join(_last_states(b) for b in last.branches) + "]"
    return text


@dataclass
class ExecutionStarted:
    """An execution of the state machine whose input holds the event."""

    name: str
    state_machine_arn: str

    def probe(self, ctx: TraceContext) -> Stage:
        found = _execution(ctx, self.state_machine_arn)
        if found is None:
            searched = ctx.facts[f"sfn:{self.state_machine_arn}:searched"]
            return Stage(self.name, False, f"none of the newest {searched} executions of "
                                           f"{self.state_machine_arn.rsplit(':', 1)[-1]} has it "
                                           "in its input")
        return Stage(self.name, True, f"execution {found['name']} {found['status']}",
                     found["startDate"].isoformat())


@dataclass
class StateReached:
    """How far that execution got: SUCCEEDED (its last state), RUNNING (where it is now), or the
    state it failed in, with error and cause."""

    name: str
    state_machine_arn: str

    def probe(self, ctx: TraceContext) -> Stage:
        found = _execution(ctx, self.state_machine_arn)
        if found is None:
            return Stage(self.name, False, "no execution to follow")
        path = execution_path(ctx.client("stepfunctions"), found["executionArn"])
        status = found["status"]
        if status in ("SUCCEEDED", "RUNNING"):
            return Stage(self.name, True, f"{status}: {_last_states(path)}",
                         (found.get("stopDate") or found["startDate"]).isoformat())
        cause = found.get("cause") or path.cause or ""
        try:  # a Lambda error's cause is JSON: its message is the part worth showing
            cause = json.loads(cause).get("errorMessage", cause)
        except (ValueError, AttributeError):
            pass
        return Stage(self.name, False, f"{status} in {path.failed_state or '?'}: "
                                       f"{found.get('error') or path.error}: {cause[:160]}",
                     (found.get("stopDate") or found["startDate"]).isoformat())


def stages_for_resources(resources: list[dict]) -> list:
    """Both stages for every state machine among a deployment's resources
    (``describe_stack_resources`` rows), for :meth:`harness.trace.Tracer.for_stacks`."""
    return [stage for r in resources if r["ResourceType"] == "AWS::StepFunctions::StateMachine"
            for stage in (ExecutionStarted(f"{r['LogicalResourceId']} started",
                                           r["PhysicalResourceId"]),
                          StateReached(f"{r['LogicalResourceId']} state",
                                       r["PhysicalResourceId"]))]
