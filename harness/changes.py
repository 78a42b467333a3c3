"""Wake waiting checks when LocalStack changes something, instead of polling fast.

The harness's LocalStack plugin (``lsh_localstack_plugins.changes``) streams a line from
``GET /_lsh/changes`` each time LocalStack has handled a request that changed something (any
successful call that is not a plain read: a client's, a Lambda function's, or LocalStack's own
internal ones such as S3 → SNS → SQS deliveries and function logs). A :class:`ChangeFeed`
reads that stream in one daemon thread per process and keeps a local counter, ``version``;
:func:`harness.waits.eventually` waits on it between attempts, so a check re-runs within a few
milliseconds of the change that may make it true, and otherwise polls only slowly.

The pytest plugin opens one feed per session on the ``localstack`` fixture and makes it the
active one (:func:`activate`); elsewhere::

    from harness import changes
    with changes.ChangeFeed(localstack.endpoint_url) as feed, changes.activate(feed):
        eventually(check)

A LocalStack without the plugin (an external one, another image) has no such stream: the feed
then says so once (``unavailable_reason``) and :func:`eventually` polls as it would without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import http.client
import logging
import socket
import threading
import urllib.parse
from typing import Any, Iterator

log = logging.getLogger(__name__)

ROUTE = "/_lsh/changes"
NOT_A_CHANGE_HEADER = "x-lsh-not-a-change"
READ_TIMEOUT_S = 5.0  # the server sends a heartbeat every second
RECONNECT_DELAYS_S = (0.05, 0.2, 1.0)


class ChangeFeed:
    """A live view of LocalStack's change counter. Thread-safe; a context manager."""

    def __init__(self, endpoint_url: str):
        parts = urllib.parse.urlsplit(endpoint_url)
        self.endpoint_url = endpoint_url
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "localhost", parts.port
        self._cond = threading.Condition()
        self._version = 0
        self._server_seq: int | None = None
        self._connected = False
        self._closed = False
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.unavailable_reason: str | None = None

    # --- lifecycle ---
    def start(self, connect_timeout: float = 2.0) -> "ChangeFeed":
        """Open the stream; wait up to ``connect_timeout`` s for it to be live (or refused)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lsh-change-feed", daemon=True)
            self._thread.start()
        with self._cond:
            self._cond.wait_for(lambda: self._connected or self.unavailable_reason or self._closed,
                                connect_timeout)
        return self

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._wake_all()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> "ChangeFeed":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what waiting checks use ---
    @property
    def live(self) -> bool:
        """True while the stream is connected: only then does a wait end early on a change."""
        return self._connected and not self._closed

    @property
    def version(self) -> int:
        """Grows by one each time the feed learns that LocalStack changed something."""
        return self._version

    def wait_for_change(self, after_version: int, timeout: float) -> bool:
        """Block until ``version`` is beyond ``after_version`` (True) or ``timeout`` s pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._version > after_version or self._closed,
                                       max(0.0, timeout)) and self._version > after_version

    async def wait_for_change_async(self, after_version: int, timeout: float) -> bool:
        """The asyncio twin of :meth:`wait_for_change` (no thread is held while waiting)."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._cond:
            if self._version > after_version:
                return True
            if self._closed:
                return False
            self._async_waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), max(0.0, timeout))
        except asyncio.TimeoutError:
            pass
        finally:
            with self._cond:
                self._async_waiters.discard(waiter)
        return self._version > after_version

    # --- the reader thread ---
    def _run(self) -> None:
        failures = 0
        while not self._closed:
            try:
                self._read_stream()
                failures = 0  # the server ended a long stream: reconnect at once
            except _Unavailable as exc:
                with self._cond:
                    self.unavailable_reason = str(exc)
                    self._cond.notify_all()
                log.info("no change feed, waiting checks poll: %s", exc)
                return
            except (OSError, http.client.HTTPException) as exc:
                failures += 1
                if self._closed:
                    return
                log.debug("change feed interrupted (%s); reconnecting", exc)
            finally:
                self._set_connected(False)
            delay = RECONNECT_DELAYS_S[min(failures, len(RECONNECT_DELAYS_S)) - 1] if failures else 0
            with self._cond:
                self._cond.wait_for(lambda: self._closed, delay)

    def _read_stream(self) -> None:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=READ_TIMEOUT_S)
        try:
            conn.connect()
            self._sock = conn.sock  # kept: the connection may hand its socket to the response
            if self._closed:
                return
            conn.request("GET", ROUTE)
            response = conn.getresponse()
            if response.status != 200:
                raise _Unavailable(
                    f"{self.endpoint_url}{ROUTE} answered HTTP {response.status}: this LocalStack "
                    "does not run the harness's plugins (an external LocalStack or another image)")
            for line in _lines(response):
                self._saw(int(line))
                if not self._connected:
                    self._set_connected(True)  # live once the current number is known
        finally:
            self._sock = None
            conn.close()

    def _set_connected(self, connected: bool) -> None:
        with self._cond:
            self._connected = connected
            self._cond.notify_all()

    def _saw(self, seq: int) -> None:
        with self._cond:
            # a number that differs after a reconnect (or a LocalStack restart) counts as a change
            if self._server_seq is None or seq != self._server_seq:
                self._version += 1
                self._wake_all()
            self._server_seq = seq

    def _wake_all(self) -> None:  # with self._cond held
        self._cond.notify_all()
        for loop, event in self._async_waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(event.set)


class _Unavailable(Exception):
    pass


def _lines(response: http.client.HTTPResponse) -> Iterator[str]:
    while True:
        raw = response.readline()
        if not raw:
            return
        text = raw.strip()
        if text:
            yield text.decode()


_not_a_change: contextvars.ContextVar[bool] = contextvars.ContextVar("lsh_not_a_change",
                                                                   default=False)


def _mark_not_a_change(request: Any, **_: Any) -> None:
    if _not_a_change.get():
        request.headers[NOT_A_CHANGE_HEADER] = "1"


def call_not_a_change(client: Any, operation: str, **params: Any) -> Any:
    """``client.<operation>(**params)``, marked so that the feed does not count it: for calls
    that only undo what the caller just did (showing a peeked message again), which would
    otherwise wake the very check that made them."""
    client.meta.events.register_first("before-sign.*.*", _mark_not_a_change,
                                      unique_id="lsh-not-a-change")
    token = _not_a_change.set(True)
    try:
        return getattr(client, operation)(**params)
    finally:
        _not_a_change.reset(token)


_active: ChangeFeed | None = None
_active_lock = threading.Lock()


def active() -> ChangeFeed | None:
    """The feed :func:`harness.waits.eventually` uses when none is passed (None: poll only)."""
    return _active


@contextlib.contextmanager
def activate(feed: ChangeFeed | None) -> Iterator[ChangeFeed | None]:
    """Make ``feed`` the active one for the duration of the block (restores the previous one)."""
    global _active
    with _active_lock:
        previous, _active = _active, feed
    try:
        yield feed
    finally:
        with _active_lock:
            _active = previous

