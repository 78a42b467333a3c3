"""A dead LocalStack fails the next harness call and a waiting check at once (no LocalStack
needed: the handle's death check is faked); an endpoint that is not LocalStack is named."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from harness.errors import LocalStackDied, LocalStackNotReachable
from harness.localstack import EmbeddedBackend, ExternalBackend, LocalStack, liveness
from harness.waits import eventually

DIED = LocalStackDied("signal SIGKILL", "03:00:00 UTC", "last line", "/tmp/lsh-logs-x/localstack.log")


def test_a_client_call_fails_at_once_with_how_when_and_the_log():
    localstack = LocalStack("http://127.0.0.1:9", death=lambda: DIED)  # port 9: nothing there
    started = time.monotonic()
    with pytest.raises(LocalStackDied, match=r"^LocalStack exited \(signal SIGKILL\) at 03:00:00 "
                                             r"UTC; its log is kept at /tmp/lsh-logs-x/"):
        localstack.client("sqs").list_queues()
    with pytest.raises(LocalStackDied):
        localstack.resource("s3").create_bucket(Bucket="b")
    assert time.monotonic() - started < 1


def test_a_waiting_check_fails_at_once_when_a_watched_localstack_dies():
    dead = []
    localstack = LocalStack("http://127.0.0.1:9", death=lambda: DIED if dead else None)
    threading.Timer(0.3, lambda: dead.append(True)).start()
    started = time.monotonic()
    with liveness.watching(localstack), pytest.raises(LocalStackDied):
        eventually(lambda: False, timeout=30, feed=None)
    assert time.monotonic() - started < 1.5
    eventually(lambda: True, timeout=1, feed=None)  # no longer watched: no effect


def test_a_live_localstack_changes_nothing():
    localstack = LocalStack("http://127.0.0.1:9", death=lambda: None)
    with liveness.watching(localstack):
        assert eventually(lambda: 42, timeout=1, feed=None) == 42


def test_an_endpoint_that_is_not_localstack_is_named():
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        with pytest.raises(LocalStackNotReachable,
                           match="answers /_localstack/health but is not LocalStack"):
            ExternalBackend(endpoint, wait_seconds=1).start()
    finally:
        server.shutdown()


def test_an_empty_log_is_said_to_be_empty_not_shown_below(tmp_path):
    backend = EmbeddedBackend(progress=lambda _: None)
    backend.log_dir = tmp_path
    (tmp_path / "localstack.log").write_text("")
    assert backend._likely_cause() == f"its log {tmp_path / 'localstack.log'} is empty"
    (tmp_path / "localstack.log").write_text("boom\n")
    assert backend._likely_cause() == "see its log below"
