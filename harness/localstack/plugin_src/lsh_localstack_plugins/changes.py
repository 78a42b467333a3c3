"""A change feed: ``GET /_lsh/changes`` streams a line each time LocalStack has changed something.

Why: a test waiting for an effect (an item written, a message sent, a log line) has no way to be
told when it lands, so it polls, and a poll finds the effect on average half a polling period
late. Every change in LocalStack goes through its handler chain as a request (a client's call, a
Lambda function's call, and LocalStack's own internal calls such as S3 → SNS, SNS → SQS, the
event-source poller's invokes and deletes, and function logs, which are dispatched through the
same chain in memory), so a response handler that counts the successful requests that are not
plain reads is a cheap, general signal: "something may have changed, look again now".

The route answers with ``text/plain`` and never ends on its own: first the current sequence
number, then a line with the new one each time it grows (coalesced: a burst of changes gives
one line, not one per change), and the same number again every ``HEARTBEAT_S`` seconds while
nothing changes, so that a client that went away is noticed and the serving thread freed. A
stream also ends after ``MAX_STREAM_S`` seconds (clients reconnect) and when LocalStack stops.
The sequence restarts at 0 with LocalStack; it counts requests, it says nothing about what
changed.

Not counted: failed requests (4xx/5xx), operations that only read (``Get*``, ``List*``,
``Describe*``, ``Scan``, ``Query``, ``Receive*``, ...), so that an event-source poller's empty
receives and a waiting check's own reads wake nobody, and requests with the header
``x-lsh-not-a-change`` (the harness's peeks send it when they make what they read visible
again, an undo that would otherwise wake the peeking check itself). Changes without a request (an SQS
visibility timeout running out, a delayed message becoming visible) are not seen; waiting
checks still poll for those, only slower.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator

ROUTE = "/_lsh/changes"
#: a request that only undoes its own effect (a peek showing what it read again) carries it
NOT_A_CHANGE_HEADER = "x-lsh-not-a-change"
HEARTBEAT_S = 1.0
MAX_STREAM_S = 300.0

#: operation name prefixes of requests that do not change anything
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Scan", "Query", "BatchGet", "Head", "Receive",
                      "Select", "Filter", "Lookup", "Search", "Test", "Check", "Validate",
                      "Estimate", "Simulate", "Poll", "Preview")


class ChangeCounter:
    """The sequence number and a condition to wait on it. ``bump`` is on every request's path."""

    def __init__(self) -> None:
        self.seq = 0
        self.stopped = False
        self._cond = threading.Condition()

    def bump(self) -> None:
        with self._cond:
            self.seq += 1
            self._cond.notify_all()

    def wait_beyond(self, seq: int, timeout: float) -> int:
        with self._cond:
            if self.seq == seq and not self.stopped:
                self._cond.wait(timeout)
            return self.seq

    def stop(self) -> None:
        with self._cond:
            self.stopped = True
            self._cond.notify_all()

    def stream(self) -> Iterator[bytes]:
        ends = time.monotonic() + MAX_STREAM_S
        sent = self.seq
        yield f"{sent}\n".encode()
        while not self.stopped and time.monotonic() < ends:
            seq = self.wait_beyond(sent, HEARTBEAT_S)
            sent = seq
            yield f"{seq}\n".encode()  # a change, or the heartbeat with the same number


COUNTER = ChangeCounter()


def is_change(context: Any, response: Any) -> bool:
    operation = getattr(context, "operation", None)
    if operation is None or response is None or response.status_code >= 400:
        return False
    if operation.name.startswith(READ_ONLY_PREFIXES):
        return False
    request = getattr(context, "request", None)
    return request is None or not request.headers.get(NOT_A_CHANGE_HEADER)


def count_change(chain: Any, context: Any, response: Any) -> None:
    """A response handler (LocalStack's ``run_custom_response_handlers``)."""
    try:
        if is_change(context, response):
            COUNTER.bump()
    except Exception:  # never let the feed break a request
        pass


def make_resource(counter: ChangeCounter) -> Any:
    from localstack.http import Request, Response, route

    class ChangesResource:
        @route(ROUTE, methods=["GET"])
        def on_get(self, request: Request) -> Response:
            response = Response(counter.stream(), status=200, mimetype="text/plain")
            response.headers["Cache-Control"] = "no-store"
            return response

    return ChangesResource()


def install() -> ChangeCounter:
    """Count changes in the handler chain and serve the stream on LocalStack's edge router."""
    from localstack.aws.handlers import run_custom_response_handlers
    from localstack.runtime.shutdown import SHUTDOWN_HANDLERS
    from localstack.services.edge import ROUTER

    run_custom_response_handlers.append(count_change)
    ROUTER.add(make_resource(COUNTER))
    SHUTDOWN_HANDLERS.register(COUNTER.stop)
    return COUNTER
