"""The change feed: the plugin's counter and stream, the client, and ``eventually`` woken by it
(no LocalStack: the plugin module is pure Python until installed; the client reads a stub)."""

from __future__ import annotations

import asyncio
import http.server
import itertools
import queue
import threading
import time
from types import SimpleNamespace
from typing import Callable

import pytest

from harness import changes
from harness.changes import ChangeFeed
from harness.waits import EventuallyTimeout, Policy, eventually, eventually_async


# --- the plugin: what counts as a change, and the stream ---

@pytest.fixture
def plugin(lsh_plugin):
    return lsh_plugin("changes")


def _ctx(operation):
    return SimpleNamespace(operation=SimpleNamespace(name=operation) if operation else None)


@pytest.mark.parametrize("operation, status, counted", [
    ("PutItem", 200, True), ("SendMessage", 200, True), ("DeleteMessageBatch", 200, True),
    ("PutLogEvents", 200, True), ("Invoke", 200, True), ("CreateQueue", 200, True),
    ("GetItem", 200, False), ("Query", 200, False), ("Scan", 200, False),
    ("ReceiveMessage", 200, False), ("ListQueues", 200, False), ("DescribeTable", 200, False),
    ("GetQueueAttributes", 200, False), ("FilterLogEvents", 200, False), ("HeadObject", 200, False),
    ("PutItem", 400, False), ("PutItem", 500, False), (None, 200, False),
])
def test_only_successful_requests_that_are_not_reads_count(plugin, operation, status, counted):
    assert plugin.is_change(_ctx(operation), SimpleNamespace(status_code=status)) is counted


def test_count_change_never_raises(plugin):
    plugin.count_change(None, object(), None)  # no operation attribute, no response


def test_stream_sends_the_number_then_coalesced_changes_then_heartbeats(plugin, monkeypatch):
    monkeypatch.setattr(plugin, "HEARTBEAT_S", 0.05)
    counter = plugin.ChangeCounter()
    stream = counter.stream()
    assert next(stream) == b"0\n"
    counter.bump()
    counter.bump()
    assert next(stream) == b"2\n"  # two changes, one line
    assert next(stream) == b"2\n"  # nothing new: the heartbeat repeats the number
    counter.stop()
    assert list(stream) in ([], [b"2\n"])  # ends once stopped


# --- the client, against a stub of the route ---

class _StreamServer:
    """Serves ``/_lsh/changes`` from a queue of lines (None ends the stream), or ``status``."""

    def __init__(self, status: int = 200):
        self.lines: queue.Queue = queue.Queue()
        self.connections = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection does

            def do_GET(self):  # noqa: N802
                outer.connections += 1
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                if status != 200:
                    return
                while True:
                    try:
                        line = outer.lines.get(timeout=0.1)
                    except queue.Empty:
                        if outer.closing:
                            return
                        continue
                    if line is None:
                        return
                    try:
                        self.wfile.write(f"{line}\n".encode())
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args):
                pass

        self.closing = False
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.closing = True
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stream_server():
    servers = []

    def make(status: int = 200) -> _StreamServer:
        servers.append(_StreamServer(status))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_feed_counts_each_new_number_and_ignores_heartbeats(stream_server):
    server = stream_server()
    server.lines.put(7)
    with ChangeFeed(server.url) as feed:
        assert feed.live
        first = feed.version
        server.lines.put(7)  # heartbeat
        assert not feed.wait_for_change(first, 0.3)
        server.lines.put(8)
        assert feed.wait_for_change(first, 5)
        assert feed.version == first + 1


def test_feed_without_the_route_says_why_and_is_not_live(stream_server):
    server = stream_server(status=404)
    with ChangeFeed(server.url) as feed:
        assert not feed.live
        assert "HTTP 404" in feed.unavailable_reason
        assert "plugins" in feed.unavailable_reason


def test_feed_reconnects_when_the_stream_ends(stream_server):
    server = stream_server()
    server.lines.put(1)
    with ChangeFeed(server.url) as feed:
        before = feed.version
        server.lines.put(None)  # the server ends the stream (as LocalStack does every 5 min)
        server.lines.put(1)  # the same number on the new stream: nothing changed meanwhile
        server.lines.put(2)
        assert feed.wait_for_change(before, 5)
        assert server.connections == 2


def test_close_stops_the_reader_while_it_waits(stream_server):
    server = stream_server()
    server.lines.put(1)
    feed = ChangeFeed(server.url).start()
    assert feed.live
    started = time.monotonic()
    feed.close()
    assert not feed._thread.is_alive()
    assert time.monotonic() - started < 2
    assert not feed.live


async def test_async_waiters_are_woken_without_a_thread(stream_server):
    server = stream_server()
    server.lines.put(1)
    with ChangeFeed(server.url) as feed:
        mark = feed.version
        waiter = asyncio.create_task(feed.wait_for_change_async(mark, 5))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        server.lines.put(2)
        assert await asyncio.wait_for(waiter, 5) is True
        assert await feed.wait_for_change_async(feed.version, 0.05) is False


def test_activate_sets_and_restores_the_active_feed(stream_server):
    server = stream_server()
    server.lines.put(0)
    # The session's LocalStack fixture may have activated its own feed already.
    before = changes.active()
    with ChangeFeed(server.url) as feed, changes.activate(feed):
        assert changes.active() is feed
        with changes.activate(None):
            assert changes.active() is None
        assert changes.active() is feed
    assert changes.active() is before


# --- eventually woken by a feed (a fake one: only timing of wake-ups matters) ---

class _FakeFeed:
    def __init__(self, live=True, always_changed=False):
        self.live, self.always_changed = live, always_changed
        self._version, self._event = 0, threading.Event()

    @property
    def version(self):
        return self._version + (next(_counter) if self.always_changed else 0)

    def change(self):
        self._version += 1
        self._event.set()

    def wait_for_change(self, after, timeout):
        if self.version > after:
            return True
        self._event.wait(timeout)
        self._event.clear()
        return self.version > after

    async def wait_for_change_async(self, after, timeout):
        return await asyncio.to_thread(self.wait_for_change, after, timeout)


_counter = itertools.count(1)
SLOW_POLLING = Policy(timeout=3, feed_interval=5.0)  # only a wake-up can end a wait in time


def test_a_change_wakes_the_check_long_before_it_would_poll():
    feed, state = _FakeFeed(), {"done": False}

    def later():
        state["done"] = True
        feed.change()

    threading.Timer(0.2, later).start()
    assert eventually(lambda: state["done"], policy=SLOW_POLLING, feed=feed) is True


def _never_true() -> tuple[list[float], Callable[[], bool]]:
    """A check that never holds, and the times it was called."""
    stamps: list[float] = []

    def check():
        stamps.append(time.monotonic())
        return False

    return stamps, check


def test_without_a_change_the_backoff_grows_past_the_polling_cap_to_the_feed_interval():
    stamps, check = _never_true()
    with pytest.raises(EventuallyTimeout) as info:
        eventually(check, policy=Policy(timeout=2.0, feed_interval=5.0), feed=_FakeFeed())
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    # 5, 10, 20, ... 640 ms, then the last attempt at the deadline (polling: ~45 attempts)
    assert info.value.attempts <= 11
    assert gaps[:4] == sorted(gaps[:4]) and gaps[0] < 0.045  # fast at first: backoff, not a fixed wait
    assert max(gaps) >= 0.5


def test_a_live_feed_settles_at_the_feed_interval():
    stamps, check = _never_true()
    with pytest.raises(EventuallyTimeout):
        eventually(check, policy=Policy(timeout=1.5), feed=_FakeFeed())
    settled = [b - a for a, b in zip(stamps[-6:-2], stamps[-5:-1])]  # the last one is at the deadline
    assert all(0.095 <= gap <= 0.13 for gap in settled), settled


def test_a_busy_localstack_cannot_push_a_check_past_max_rate():
    feed = _FakeFeed(always_changed=True)  # every wait ends at once
    stamps, check = _never_true()
    policy = Policy(timeout=1.0, max_rate=10.0, burst=3)
    with pytest.raises(EventuallyTimeout):
        eventually(check, policy=policy, feed=feed)
    assert len(stamps) <= 3 + 10 * 1.0 + 1


def test_a_feed_that_is_not_live_falls_back_to_polling():
    feed = _FakeFeed(live=False)
    calls = itertools.count(1)
    # polling (cap 45 ms) finds the value; the slow interval would not within the timeout
    assert eventually(lambda: next(calls) >= 5, policy=SLOW_POLLING.with_timeout(1.0),
                      feed=feed) is True


def test_the_active_feed_is_used_by_default_and_none_turns_it_off():
    feed, state = _FakeFeed(), {"done": False}

    def later():
        state["done"] = True
        feed.change()

    with changes.activate(feed):
        threading.Timer(0.2, later).start()
        assert eventually(lambda: state["done"], policy=SLOW_POLLING) is True
        # feed=None: plain polling (cap 45 ms) finds what the 5 s interval would not in 1 s
        calls = itertools.count(1)
        assert eventually(lambda: next(calls) >= 5, policy=SLOW_POLLING.with_timeout(1.0),
                          feed=None) is True


async def test_async_twin_is_woken_too():
    feed, state = _FakeFeed(), {"done": False}

    def later():
        state["done"] = True
        feed.change()

    threading.Timer(0.2, later).start()
    assert await eventually_async(lambda: state["done"], policy=SLOW_POLLING, feed=feed) is True


# --- requests that undo their own effect are marked, so that they wake nobody ---

def test_a_marked_request_is_not_a_change(plugin):
    ctx = _ctx("ChangeMessageVisibilityBatch")
    ctx.request = SimpleNamespace(headers={plugin.NOT_A_CHANGE_HEADER: "1"})
    assert not plugin.is_change(ctx, SimpleNamespace(status_code=200))
    ctx.request = SimpleNamespace(headers={})
    assert plugin.is_change(ctx, SimpleNamespace(status_code=200))
    assert plugin.NOT_A_CHANGE_HEADER == changes.NOT_A_CHANGE_HEADER


def test_call_not_a_change_marks_that_call_only():
    import boto3

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.headers.get(changes.NOT_A_CHANGE_HEADER))
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{httpd.server_address[1]}",
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test")
        url = "http://q/000000000000/q"
        changes.call_not_a_change(sqs, "change_message_visibility", QueueUrl=url,
                                  ReceiptHandle="r", VisibilityTimeout=0)
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="r", VisibilityTimeout=0)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert seen == ["1", None]


def test_no_attempts_spin_between_the_pacer_deadline_and_tenacitys(monkeypatch):
    """Seen in CI on a loaded machine: the pacer's deadline (set when the wait is built) passed
    before tenacity's own (counted from the first attempt), the waits were clipped to nothing,
    and the check ran ~150 times in a row. The wait now stops at the pacer's deadline."""
    import harness.waits as waits

    made = waits._Pacer.__init__

    def made_late(self, *args, **kwargs):  # time passes before tenacity starts its clock
        made(self, *args, **kwargs)
        time.sleep(0.3)

    monkeypatch.setattr(waits._Pacer, "__init__", made_late)
    stamps, check = _never_true()
    with pytest.raises(EventuallyTimeout):
        eventually(check, policy=Policy(timeout=1.0, max_rate=10.0, burst=3),
                   feed=_FakeFeed(always_changed=True))
    assert len(stamps) <= 3 + 10 * 1.0 + 1
