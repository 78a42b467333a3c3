"""A LocalStack with functions stops in well under a second (lsh_localstack_plugins.fast_shutdown).

Before: each function's async-invoke poller long-polls Lambda's internal queue for 2 s and
LocalStack's stop joins it, then the interpreter's finalization collects LocalStack's heap
(~1 s): stopping took 1.5-4 s (3.9 s with the order-events app deployed). Both are cut: the
long polls end at shutdown, and the process leaves with ``os._exit`` once LocalStack's own
shutdown is done (after the ``atexit`` handlers and a flush of its streams).
"""

from __future__ import annotations

import time

from harness.localstack import EmbeddedBackend
from tests.integration.conftest import make_zip

ROLE = "arn:aws:iam::000000000000:role/lsh-fast-shutdown"
#: without the fix, the interpreter's finalization alone took 1.1-1.5 s here and the pollers'
#: long polls up to 2 s more; with it, ~0.25 s (0.6 s on a loaded machine)
STOP_WITHIN_S = 1.5


def test_localstack_with_async_invoked_functions_stops_at_once_and_cleanly():
    backend = EmbeddedBackend(progress=lambda _line: None)
    try:
        localstack = backend.start()
        lam = localstack.client("lambda")
        names = [f"lsh-fast-shutdown-{i}" for i in range(2)]
        for name in names:
            lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                Role=ROLE, Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return e\n"})})
            lam.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
            # an async invoke starts the function's poller of LocalStack's internal queue
            assert lam.invoke(FunctionName=name, InvocationType="Event",
                              Payload=b"{}")["StatusCode"] == 202
        process = backend.process
        log_path = backend.log_path
        started = time.monotonic()
        backend.keep_logs = True  # read its log after the stop
        backend.stop()
        took = time.monotonic() - started
        log = log_path.read_text()
    finally:
        backend.keep_logs = False
        backend.stop()
        if backend.log_dir:
            import shutil

            shutil.rmtree(backend.log_dir, ignore_errors=True)
    assert process.returncode == 0, f"LocalStack exited with {process.returncode}:\n{log[-2000:]}"
    assert "[shutdown] Stopping all services" in log  # a real shutdown, not a kill
    assert "Poller did not shutdown" not in log
    assert took < STOP_WITHIN_S, f"stopping LocalStack took {took:.2f} s"
