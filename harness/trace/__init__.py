"""Where is my event? A stage-by-stage account of one event in any deployed app.

A :class:`Tracer` asks each of its stages what it saw of the event, without disturbing anything
(queues are only counted, DLQs peeked, logs and tables read, the SNS publish log queried). The
stages come from the app: a list of probes (:mod:`harness.trace.stages` has generic ones for a
topic publish, a queue, a DLQ, a function's log lines and a table item;
:mod:`harness.trace.eventbridge` for a bus's puts, matched rules, targets and target DLQs;
:mod:`harness.trace.stepfunctions_stages` for a state machine's executions), or
:meth:`Tracer.for_stacks`, which builds them from a deployment's resources (what
``lsh trace`` does for any app)::

    from harness.trace import Tracer
    from harness.trace.stages import DeadLetters, FunctionLogs, TopicPublished

    tracer = Tracer(localstack, [TopicPublished("orders topic", topic_arn),
                                 FunctionLogs("processor", "my-processor"),
                                 DeadLetters("orders DLQ", dlq_url)])
    print(tracer.trace("order-17").render())

A stage is any object with a ``name`` and ``probe(ctx) -> Stage``; ``ctx`` is a
:class:`TraceContext` holding the needles (the id asked for, plus what ``expand`` adds, e.g. the
event id an app assigned to an object key) and cached clients.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from harness.localstack.base import LocalStack


@dataclass
class Stage:
    name: str
    reached: bool | None  # None: cannot tell from here
    detail: str
    at: str | None = None


@dataclass
class Trace:
    needle: str
    stages: list[Stage] = field(default_factory=list)

    @property
    def where(self) -> str:
        reached = [s for s in self.stages if s.reached]
        return reached[-1].name if reached else "nowhere the app can see"

    def render(self) -> str:
        lines = [f"trace of {self.needle!r}: last seen at {self.where}"]
        for s in self.stages:
            mark = {True: "✔", False: "✘", None: "?"}[s.reached]
            when = f" {s.at}" if s.at else ""
            lines.append(f"  {mark} {s.name:<24}{when}  {s.detail}")
        return "\n".join(lines)


@dataclass
class TraceContext:
    """What the stages of one trace share: the LocalStack, the needles to look for, and
    ``facts`` an app's stages may leave for later ones (e.g. the table item found)."""

    localstack: LocalStack
    needle: str
    needles: set[str]
    facts: dict[str, Any] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.localstack.client(service)
        return self._clients[service]


class StageProbe(Protocol):
    name: str

    def probe(self, ctx: TraceContext) -> Stage: ...


class Tracer:
    """Asks each stage in turn; a stage that raises is shown as "?" with the error, and the
    trace goes on (a trace is read when something is already wrong)."""

    def __init__(self, localstack: LocalStack, stages: Iterable[StageProbe],
                 expand: Callable[[TraceContext], Iterable[str]] | None = None):
        self.localstack = localstack
        self.stages = list(stages)
        self.expand = expand

    def trace(self, needle: str) -> Trace:
        ctx = TraceContext(self.localstack, needle, {needle})
        if self.expand is not None:
            ctx.needles |= {n for n in self.expand(ctx) if n}
        trace = Trace(needle)
        for stage in self.stages:
            try:
                trace.stages.append(stage.probe(ctx))
            except Exception as exc:  # noqa: BLE001 - one broken stage must not hide the rest
                trace.stages.append(Stage(stage.name, None,
                                          f"cannot tell: {type(exc).__name__}: {exc}"))
        return trace

    @classmethod
    def for_stacks(cls, localstack: LocalStack, stack_names: Iterable[str]) -> "Tracer":
        """Stages for every bus, topic, queue (DLQs as DLQs), function, table and state machine
        of the given CloudFormation stacks, in that order: a trace of any deployed app."""
        from harness.trace.stages import stages_for_resources

        cfn = localstack.client("cloudformation")
        resources = []
        for name in stack_names:
            resources += cfn.describe_stack_resources(StackName=name)["StackResources"]
        return cls(localstack, stages_for_resources(localstack, resources))


def ms_to_iso(ms: int | float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds")


__all__ = ["Stage", "Trace", "TraceContext", "StageProbe", "Tracer", "ms_to_iso"]
