"""Virtual time for Step Functions: scale Retry intervals and Wait states by ``LSH_SFN_TIME_SCALE``.

A workflow with ``Retry`` (``IntervalSeconds`` 2, ``BackoffRate`` 2.0, ``MaxAttempts`` 3) waits
2 + 4 + 8 s of real time in LocalStack, as on AWS. With a scale of 0.001 those waits last 2, 4
and 8 ms: the interpreter still runs every attempt and writes each to the history, and the delays
keep their proportions (backoff, ``MaxDelaySeconds`` caps and jitter are computed first in
workflow seconds, then scaled).

What is scaled (in LocalStack 4.8.1's interpreter, ``localstack.services.stepfunctions.asl``):

- a retrier's sleep before the next attempt (``RetrierDecl._eval_body`` sleeps the computed
  interval with ``time.sleep``: the module's ``time`` is replaced by one whose ``sleep`` scales);
- a ``Wait`` state, whatever its form (``Seconds``, ``SecondsPath``, ``Timestamp``,
  ``TimestampPath``, JSONata): ``WaitFunction._wait_interval`` is replaced by a scaled wait that
  still ends early when the execution is stopped. A ``Timestamp`` wait scales the time left until
  that timestamp.

Not scaled: task ``TimeoutSeconds``/``HeartbeatSeconds`` and the execution's own timeout (they
bound real work). The scale is read at every wait; ``LSH_SFN_TIME_SCALE`` sets it at start
(default 1, real time) and ``GET``/``PUT /_lsh/sfn/time-scale`` (``{"scale": 0.001}``) reads or
changes it while LocalStack runs, so one LocalStack can run a suite both ways.
"""

from __future__ import annotations

import json
import os
import threading
import time as _time
from typing import Any

from lsh_localstack_plugins.after_import import after_import

ENV_VAR = "LSH_SFN_TIME_SCALE"
ROUTE = "/_lsh/sfn/time-scale"


def _initial_scale() -> float:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_VAR}={raw!r} is not a number: use e.g. 0.001 (or 1 for real "
                         "time)") from None
    if not scale > 0:
        raise ValueError(f"{ENV_VAR}={raw!r} must be > 0: use e.g. 0.001 (or 1 for real time)")
    return scale


class TimeScale:
    """The current factor, shared by every execution."""

    def __init__(self, scale: float = 1.0):
        self._scale = scale
        self._lock = threading.Lock()

    def get(self) -> float:
        return self._scale

    def set(self, scale: float) -> float:
        if not scale > 0:
            raise ValueError(f"time scale must be > 0, got {scale!r}")
        with self._lock:
            previous, self._scale = self._scale, float(scale)
        return previous

    def scaled(self, seconds: float) -> float:
        return max(0.0, float(seconds)) * self._scale


SCALE = TimeScale()


class _ScaledTime:
    """Stands in for the ``time`` module inside the retrier: ``sleep`` scaled, the rest as is."""

    def __init__(self, scale: TimeScale):
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        _time.sleep(self._scale.scaled(seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


def scale_retry_intervals(scale: TimeScale = SCALE) -> None:
    from localstack.services.stepfunctions.asl.component.common.retry import retrier_decl

    retrier_decl.time = _ScaledTime(scale)


def scale_wait_states(scale: TimeScale = SCALE) -> None:
    from localstack.services.stepfunctions.asl.component.state.state_wait.wait_function import (
        wait_function)

    def _wait_interval(self, env, wait_seconds) -> None:
        """Wait ``wait_seconds`` scaled; end early if the execution stops (as LocalStack's does).
        LocalStack's own version re-enters with whole seconds left, which a scaled (sub-second)
        wait would never reach."""
        deadline = _time.monotonic() + scale.scaled(wait_seconds)
        while env.is_running():
            left = deadline - _time.monotonic()
            if left <= 0:
                return
            env.program_state_event.wait(left)

    wait_function.WaitFunction._wait_interval = _wait_interval


def make_resource(scale: TimeScale) -> Any:
    from localstack.http import Request, Response, route

    def json_response(doc: Any, status: int = 200) -> Response:
        return Response(json.dumps(doc), status=status, mimetype="application/json")

    class TimeScaleResource:
        @route(ROUTE, methods=["GET"])
        def on_get(self, request: Request) -> Response:
            return json_response({"scale": scale.get()})

        @route(ROUTE, methods=["PUT", "POST"])
        def on_put(self, request: Request) -> Response:
            try:
                value = float(json.loads(request.get_data() or b"{}")["scale"])
                previous = scale.set(value)
            except (ValueError, KeyError, TypeError) as exc:
                return json_response({"error": f"send {{\"scale\": <number > 0>}} ({exc})"}, 400)
            return json_response({"scale": value, "previous": previous})

    return TimeScaleResource()


_RETRIER = "localstack.services.stepfunctions.asl.component.common.retry.retrier_decl"
_WAIT = "localstack.services.stepfunctions.asl.component.state.state_wait.wait_function.wait_function"


def install() -> TimeScale:
    """Scale retries and waits by ``LSH_SFN_TIME_SCALE`` and serve the route to change it."""
    from localstack.services.edge import ROUTER

    SCALE.set(_initial_scale())
    after_import({_RETRIER: lambda: scale_retry_intervals(SCALE),
                  _WAIT: lambda: scale_wait_states(SCALE)})
    ROUTER.add(make_resource(SCALE))
    return SCALE
