"""localstack-e2e-harness: end-to-end tests of event-driven AWS apps against a real LocalStack.

Public API, all importable from ``harness`` (imports are light: nothing here starts LocalStack by
itself, and the capability modules load on first use):

- :func:`create_backend`, :class:`LocalStack`: get a running LocalStack (embedded, testcontainers
  or external);
- waits: :func:`eventually` / :func:`eventually_async`, :func:`never` / :func:`never_async`,
  :class:`Policy`, the probes (:func:`wait_for_message`, :func:`wait_for_item`,
  :func:`wait_for_log_line`, :func:`wait_for_execution` and their ``_async`` twins,
  :func:`peek_messages`, :class:`StreamProbe` for DynamoDB Streams), and the
  :class:`ChangeFeed` that wakes them;
- EventBridge: :class:`BusTap` (and :class:`TopicTap` for SNS), :func:`check_pattern` (a pattern
  against samples, both ways), :class:`BusRoutes` (exactly these targets, no other),
  :func:`replay_archive` and friends (archive replays);
- :class:`DeadLetterQueue`; :class:`Fault` and :func:`inject_fault`; :func:`assert_exactly_once`
  and :func:`deliver_duplicates`; :func:`fire` (concurrency); :class:`Tracer` (where an
  event got stuck); :class:`SnsPublishLog`; :class:`CdkApp` and :func:`deploy_app` (the deployed
  app's outputs and resource lookups);
- Step Functions (:mod:`harness.stepfunctions`): :func:`wait_for_path` (an execution's
  :class:`ExecutionPath`: states, attempts, branches, failure), :func:`assert_saga`,
  :func:`time_scale` (virtual time for waits and retries);
- :mod:`harness.strategies` and :mod:`harness.stateful` (Hypothesis, the ``[fuzz]`` extra;
  imported on their own);
- the pytest plugin (:mod:`harness.pytest_plugin`) gives the ``localstack`` and ``deploy``
  fixtures (and ``deployed_app``, ``lambda_faults``).
"""

from harness.errors import (EnvironmentBuildError, HarnessError, LocalStackNotReachable,
                            LocalStackStartError)
from harness.localstack import Backend, EmbeddedBackend, ExternalBackend, LocalStack, create_backend
from harness.sns_log import PublishRecord, SnsPublishLog, SnsPublishLogUnavailable
from harness.waits import DEFAULT_POLICY, EventuallyTimeout, Policy, eventually, eventually_async

#: name -> module, loaded on first use (PEP 562)
_LAZY = {
    **dict.fromkeys(["wait_for_message", "wait_for_item", "wait_for_log_line", "wait_for_execution",
                     "wait_for_message_async", "wait_for_item_async", "wait_for_log_line_async",
                     "wait_for_execution_async", "peek_messages", "queue_depth"], "harness.probes"),
    **dict.fromkeys(["ChangeFeed"], "harness.changes"),
    **dict.fromkeys(["DeadLetterQueue", "DeadLetter"], "harness.dlq"),
    **dict.fromkeys(["Fault", "FaultInjector", "InjectedFault", "inject_fault"], "harness.faults"),
    **dict.fromkeys(["assert_exactly_once", "deliver_duplicates", "IdempotencyReport"],
                    "harness.idempotency"),
    **dict.fromkeys(["fire", "ConcurrencyReport", "Outcome"], "harness.concurrency"),
    **dict.fromkeys(["Tracer", "Trace", "Stage", "TraceContext"], "harness.trace"),
    **dict.fromkeys(["CdkApp", "DeployError", "DeployedStack", "deploy_app"], "harness.deploy"),
    **dict.fromkeys(["LocalStackDied", "SettingError"], "harness.errors"),
    **dict.fromkeys(["DeployedResource", "ResourceNotFound"], "harness.deploy.resources"),
    **dict.fromkeys(["StreamProbe", "StreamRecord"], "harness.streams"),
    **dict.fromkeys(["replay_archive", "start_replay", "wait_for_replay", "replayed_events",
                     "ReplayOutcome", "ReplayFailed"], "harness.replay"),
    **dict.fromkeys(["ExecutionPath", "StateRun", "wait_for_path", "wait_for_started_execution",
                     "execution_path", "assert_saga", "time_scale", "set_time_scale"],
                    "harness.stepfunctions"),
    **dict.fromkeys(["never", "never_async", "NeverViolated"], "harness.waits"),
    **dict.fromkeys(["BusTap", "TopicTap"], "harness.taps"),
    **dict.fromkeys(["BusRoutes", "Route"], "harness.routing"),
    **dict.fromkeys(["check_pattern", "assert_pattern", "PatternMismatch"], "harness.patterns"),
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Backend", "EmbeddedBackend", "ExternalBackend", "LocalStack", "create_backend",
    "eventually", "eventually_async", "Policy", "DEFAULT_POLICY", "EventuallyTimeout",
    "HarnessError", "EnvironmentBuildError", "LocalStackStartError", "LocalStackNotReachable",
    "SnsPublishLog", "PublishRecord", "SnsPublishLogUnavailable",
    *_LAZY,
]
