"""A LocalStack that is told to stop stops in a fraction of a second, not 3-4 s.

Where LocalStack 4.8.1's shutdown spent its time (a deployed app with two functions, SIGTERM to
exit ~3.8 s; its debug log and ``py-spy dump``):

- ~1.5 s: each function's async-invoke poller (``event_manager.Poller``) long-polls its queue
  (Lambda's internal ``QueueManager``, not the SQS service's) with ``WaitTimeSeconds=2`` and is
  joined on stop, so stopping Lambda waits for those receives to time out.
  :func:`interrupt_sqs_long_polls_at_shutdown` ends every long poll, on those queues and on the
  SQS service's (``queue.shutdown()``, which the SQS provider calls itself on its own queues when
  its turn to stop comes), before the services are stopped.
- ~1.1 s after ``[shutdown] Completed, bye!``: the interpreter's finalization, mostly a garbage
  collection of LocalStack's large heap (``gc_collect_main`` in every dump). Nothing is kept
  after a run, so :func:`exit_now` runs the ``atexit`` handlers (logging's flush among them),
  flushes the standard streams and leaves with ``os._exit``.

Only the way out is changed: requests, state and the order of the services' stops are not.
``LSH_FAST_SHUTDOWN=0`` turns both off (to compare).
"""

from __future__ import annotations

import atexit
import os
import sys


def enabled() -> bool:
    return os.environ.get("LSH_FAST_SHUTDOWN", "1") != "0"


def _shut_down_sqs_queues() -> None:
    queues = []
    models = sys.modules.get("localstack.services.sqs.models")
    if models is not None:  # SQS was loaded: its queues (event sources long-poll them)
        for _, _, store in models.sqs_stores.iter_stores():
            queues += store.queues.values()
    internal = sys.modules.get("localstack.services.lambda_.invocation.internal_sqs_queue")
    if internal is not None:  # Lambda's own queues of async invocations, one per function
        queues += internal.get_fake_sqs_client().queue_manager.queues.values()
    for queue in list(queues):
        queue.shutdown()


def interrupt_sqs_long_polls_at_shutdown() -> None:
    """End every SQS long poll as soon as LocalStack starts shutting down (before the services
    stop), so the Lambda service's stop does not wait for its pollers' 2-s receives."""
    from localstack.runtime.shutdown import SHUTDOWN_HANDLERS

    SHUTDOWN_HANDLERS.register(_shut_down_sqs_queues)


def exit_now(code: int | str | None) -> None:
    """Leave the process with ``code`` (as ``sys.exit`` would take it) without the interpreter's
    finalization: ``atexit`` handlers run and the streams are flushed first."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if code is None:
        os._exit(0)
    if isinstance(code, int):
        os._exit(code)
    sys.stderr.write(f"{code}\n")  # sys.exit("message") prints it and exits 1
    sys.stderr.flush()
    os._exit(1)
