"""One Lambda execution environment as a host process (stdlib only).

Started by ``ProcessRuntimeExecutor`` with the *function's* Python (``LSH_FUNCTION_PYTHON``) as
``python -I -S bridge.py``, in a session (process group) of its own. It sits between LocalStack and
AWS's runtime interface client:

- towards LocalStack it serves ``POST /invoke`` (one invocation at a time, answered 202 at once)
  and reports each result to LocalStack's executor endpoint (``LOCALSTACK_RUNTIME_ENDPOINT``):
  ``/invocations/<id>/logs`` first, then ``/invocations/<id>/response`` or ``/error``;
- towards the function it runs ``awslambdaric`` (AWS's runtime interface client) as a child with
  the code directory as working directory, and serves it the Lambda Runtime API
  (``/2018-06-01/runtime/invocation/next``, ``/<id>/response``, ``/<id>/error``, ``/init/error``).

It also does what the Lambda service does around the runtime: enforces the function timeout
(``Sandbox.Timedout``, then kills and restarts the runtime), reports a runtime that exits
mid-invocation (``Runtime.ExitError``), and collects the runtime's stdout/stderr as the
invocation's logs, with START/END/REPORT lines.

Protocol with the executor: the first line on stdin is a JSON config; the bridge answers with one
line ``LSH-BRIDGE-READY <port>`` on stdout. End-of-file on stdin means LocalStack is gone (or
stopped this environment), and the bridge kills its runtime and exits, so nothing outlives
LocalStack, even a SIGKILLed one. With ``"transport": "pipe"`` in the config (the executor's
default, ``LSH_LAMBDA_PIPE``), invocations come as JSON lines on stdin (the same fields as
``POST /invoke``) and each result goes back on stdout as one frame
``LSH-RESULT <kind> <request id> <log bytes> <body bytes>`` + logs + body (kind ``response``,
``error``, or ``reject`` with the HTTP status as body): no HTTP request, TCP connection or trip
through LocalStack's gateway per invocation. Otherwise stdin is never written to after the config
and results go to LocalStack's executor endpoint over HTTP, as LocalStack's own runtimes do.

Each runtime gets its own Runtime API listener (a generation): a killed runtime's pending ``/next``
is bound to its retired generation and can never take the next invocation.

Start-up cost matters (one bridge per cold start, many in parallel), so this uses a small HTTP/1.1
layer on ``socket`` and ``os.posix_spawn`` instead of ``http.server``, ``http.client`` and
``subprocess``, which import ~40 ms more.
"""

import json
import os
import select
import signal
import socket
import sys
import threading
import time

API = "/2018-06-01/runtime"
READY_PREFIX = "LSH-BRIDGE-READY"
# AWS gives the Init phase 10 s outside the function timeout; an invocation waiting on a runtime
# that is still initialising times out after this plus the function timeout.
INIT_ALLOWANCE_SECONDS = 10.0
MAX_LOG_BYTES = 4 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024

# Runs in the runtime process before awslambdaric: die with the bridge even if the bridge is
# SIGKILLed (PR_SET_PDEATHSIG; the bridge spawns runtimes from its long-lived main thread only,
# the signal fires when the spawning *thread* ends), and start in the code directory, first on
# sys.path, as AWS does with /var/task.
RUNTIME_SHIM = r"""
import os, signal, sys
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    os._exit(70)
os.chdir(sys.argv[2])
sys.path[0] = sys.argv[2]
sys.argv = ["awslambdaric", sys.argv[3]]
from awslambdaric.__main__ import main
main(sys.argv)
"""

SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
}
REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    503: "Service Unavailable",
}


def _log(msg):
    try:
        sys.stderr.write("lsh-bridge[%d]: %s\n" % (os.getpid(), msg))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _iso_now():
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (
        int(now * 1000) % 1000
    )


def _exit_description(returncode):
    if returncode is None or returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
            name = SIGNAL_NAMES.get(sig, sig.name)
        except ValueError:
            name = str(-returncode)
        return "Runtime exited with error: signal: %s" % name
    return "Runtime exited with error: exit status %d" % returncode


def _max_memory_mb(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# ---------------------------------------------------------------------------------------------
# a small HTTP/1.1 layer


class HttpError(Exception):
    pass


class Request:
    __slots__ = ("method", "path", "headers", "body")

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class Connection:
    """One HTTP/1.1 connection: keep-alive, Content-Length or chunked bodies, 100-continue."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.close_after = False

    def _fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise EOFError
        self.buf += data

    def _read_head(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > MAX_HEADER_BYTES:
                raise HttpError("header too large")
            self._fill()
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return lines[0], headers

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _read_body(self, headers, until_eof=False):
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self._read_line().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self._read_line():  # trailers
                        pass
                    return b"".join(parts)
                parts.append(self._read_exact(size))
                self._read_exact(2)
        if "content-length" in headers:
            return self._read_exact(int(headers["content-length"]))
        if until_eof:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            data = bytes(self.buf)
            self.buf.clear()
            return data
        return b""

    def read_request(self):
        start, headers = self._read_head()
        try:
            method, path, version = start.split(" ", 2)
        except ValueError:
            raise HttpError("bad request line")
        if headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._read_body(headers)
        connection = headers.get("connection", "").lower()
        self.close_after = connection == "close" or (
            version == "HTTP/1.0" and connection != "keep-alive"
        )
        return Request(method, path, headers, body)

    def read_response(self):
        while True:
            start, headers = self._read_head()
            status = int(start.split(" ", 2)[1])
            if status != 100:
                break
        return status, self._read_body(headers, until_eof=True)

    def reply(self, status, body=b"", headers=None):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        if body and not (headers and "Content-Type" in headers):
            lines.append("Content-Type: application/json")
        for key, value in (headers or {}).items():
            lines.append("%s: %s" % (key, value))
        lines.append("Content-Length: %d" % len(body))
        if self.close_after:
            lines.append("Connection: close")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)


class HttpServer:
    """Listens on 127.0.0.1 (a free port); one thread per connection; handle(conn, request)."""

    def __init__(self, handle, name):
        self.handle = handle
        self.name = name
        self.closed = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, name=name, daemon=True).start()

    def _accept_loop(self):
        while not self.closed:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            if self.closed:
                sock.close()
                return
            # Nagle + delayed ACK would add ~40 ms stalls to small request/response exchanges
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        conn = Connection(sock)
        try:
            while not self.closed:
                try:
                    request = conn.read_request()
                except EOFError:
                    return
                self.handle(conn, request)
                if conn.close_after:
                    return
        except (OSError, ValueError, HttpError):
            pass
        finally:
            sock.close()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        except OSError:
            pass
        self.sock.close()


class Callback:
    """POSTs to LocalStack's executor endpoint (a fresh localhost connection each time)."""

    def __init__(self, base_url):
        rest = base_url.split("://", 1)[-1]
        hostport, slash, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port or 80)
        self.prefix = (slash + path).rstrip("/")

    def post(self, path, body):
        err = None
        for attempt in range(3):
            try:
                sock = socket.create_connection((self.host, self.port), timeout=60)
            except ConnectionRefusedError as e:  # nothing was delivered: safe to retry
                err = e
                time.sleep(0.05 * (attempt + 1))
                continue
            except OSError as e:
                err = e
                break
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                head = (
                    "POST %s%s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\nConnection: close\r\n\r\n"
                    % (self.prefix, path, self.host, self.port, len(body))
                )
                sock.sendall(head.encode("utf-8") + body)
                status, _ = Connection(sock).read_response()
                if status >= 300:
                    _log("LocalStack answered %d to POST %s" % (status, path))
                return status
            except (OSError, ValueError, EOFError, HttpError) as e:
                err = e
                break
            finally:
                sock.close()
        _log("POST %s failed: %r" % (path, err))
        return None


# ---------------------------------------------------------------------------------------------
# the execution environment


class Invocation:
    def __init__(self, request_id, payload, arn, trace_id):
        self.request_id = request_id
        self.payload = payload
        self.arn = arn
        self.trace_id = trace_id
        self.arrived = time.monotonic()
        self.dispatched_at = None
        self.runtime = None
        self.finished = False
        self.timer = None


class Runtime:
    def __init__(self, gen):
        self.gen = gen
        self.pid = None
        self.server = None
        self.fd = None
        self.fd_closed = False
        self.spawned_at = time.monotonic()
        self.first_next_at = None
        self.init_reported = False
        self.init_error = None
        self.killed = False
        self.exited = False
        self.returncode = None


class Bridge:
    def __init__(self, cfg):
        self.timeout = float(cfg["timeout"])
        self.python = cfg["python"]
        # the runtime's command line before "<bridge pid> <code dir> <handler>": awslambdaric
        # through RUNTIME_SHIM, or node_runtime.js for nodejs functions (first item: a full path)
        self.runtime_command = cfg.get("runtime_command") or [self.python, "-c", RUNTIME_SHIM]
        self.handler = cfg["handler"]
        self.code_dir = cfg["code_dir"]
        self.version = cfg.get("function_version") or "$LATEST"
        self.memory = cfg.get("memory_size")
        self.env = {str(k): str(v) for k, v in cfg["env"].items()}
        self.callback = Callback(cfg["runtime_endpoint"])
        self.pipe = cfg.get("transport") == "pipe"
        self.out_lock = threading.Lock()
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.log_lock = threading.Lock()
        self.logbuf = bytearray()
        self.rt = None  # the current runtime generation
        self.gen = 0
        self.inv = None  # the invocation in progress (at most one)
        self.closing = False
        self.spawn_requested = False
        self.alive = set()  # runtimes not yet seen exiting (their pid is still ours)

    # ---- spawning (main thread only: PR_SET_PDEATHSIG is tied to the spawning thread) ----

    def request_spawn(self):
        """Caller holds self.lock."""
        if self.rt is None and not self.spawn_requested and not self.closing:
            self.spawn_requested = True
            self.cv.notify_all()

    def run_main_loop(self):
        while True:
            with self.lock:
                while not self.spawn_requested:
                    self.cv.wait()
            self._spawn()

    def _spawn(self):
        with self.lock:
            self.spawn_requested = False
            if self.closing or self.rt is not None:
                return
            self.gen += 1
            rt = Runtime(self.gen)
            self.rt = rt
        rt.server = HttpServer(
            lambda conn, req: self.runtime_api(conn, req, rt), "rt-api-%d" % rt.gen
        )
        env = dict(self.env)
        env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:%d" % rt.server.port
        read_fd, write_fd = os.pipe()
        try:
            pid = os.posix_spawn(
                self.runtime_command[0],
                [*self.runtime_command, str(os.getpid()), self.code_dir, self.handler],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, write_fd, 1),
                    (os.POSIX_SPAWN_DUP2, write_fd, 2),
                ],
                setsid=True,  # own process group: a timeout kills the runtime and its children
            )
        except OSError as e:
            os.close(read_fd)
            os.close(write_fd)
            _log("cannot start the runtime: %s" % e)
            self._runtime_failed_to_start(rt, "Runtime failed to start: %s" % e)
            return
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        with self.lock:
            rt.pid = pid
            rt.fd = read_fd
            self.alive.add(rt)
            if rt.killed:  # timed out while we were spawning it
                self._kill_locked(rt)
        threading.Thread(target=self._pump_logs, args=(rt,), daemon=True).start()
        threading.Thread(target=self._wait_runtime, args=(rt,), daemon=True).start()

    def _runtime_failed_to_start(self, rt, message):
        with self.lock:
            rt.exited = True
            if self.rt is rt:
                self.rt = None
            inv = self.inv
            fail = inv is not None and not inv.finished
            if fail:
                self._mark_finished(inv)
        rt.server.close()
        if fail:
            body = {"errorType": "Runtime.Unknown", "errorMessage": message}
            self._finish(inv, "error", json.dumps(body).encode(), [message + "\n"], None)

    def _kill_locked(self, rt):
        """Caller holds self.lock. SIGKILLs the runtime and everything in its process group."""
        rt.killed = True
        if rt in self.alive:
            try:
                os.killpg(rt.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _wait_runtime(self, rt):
        try:
            os.waitid(os.P_PID, rt.pid, os.WEXITED | os.WNOWAIT)  # not reaped: pid stays ours
        except ChildProcessError:
            pass
        fail = None
        respawn = False
        with self.lock:
            self.alive.discard(rt)
            if rt is self.rt:
                self.rt = None
                inv = self.inv
                if inv is not None and not inv.finished:
                    if inv.runtime is rt or (
                        inv.dispatched_at is None and rt.spawned_at >= inv.arrived
                    ):
                        self._mark_finished(inv)
                        fail = inv
                # a pending invocation gets a fresh runtime; a runtime that crashed in an
                # invocation or while idle is replaced at once; one that never reached /next
                # (broken init) is only retried on demand, so it cannot loop
                pending = self.inv is not None and not self.inv.finished
                respawn = pending or rt.first_next_at is not None
                if pending:
                    self.request_spawn()
        try:
            _, status = os.waitpid(rt.pid, 0)
            returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            returncode = None
        with self.lock:
            rt.returncode = returncode
            rt.exited = True
            self.cv.notify_all()
        if fail is not None:
            if fail.dispatched_at is None and rt.init_error is not None:
                self._finish(fail, "error", rt.init_error, [], rt)
            else:
                description = _exit_description(returncode)
                body = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": "RequestId: %s Error: %s" % (fail.request_id, description),
                }
                line = "RequestId: %s Error: %s\nRuntime.ExitError\n" % (
                    fail.request_id,
                    description,
                )
                self._finish(fail, "error", json.dumps(body).encode(), [line], rt)
        if respawn:
            # only now, so the new runtime's init output is not taken for the failed invocation's
            with self.lock:
                self.request_spawn()
        rt.server.close()

    # ---- logs ----

    def _pump_logs(self, rt):
        fd = rt.fd
        while True:
            try:
                select.select([fd], [], [])
            except (OSError, ValueError):
                return
            with self.log_lock:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    rt.fd_closed = True
                    os.close(fd)
                    return
                self._append_log(data)

    def _drain(self, rt):
        """Read what the runtime has written so far. Its output is in the pipe before any HTTP
        call it makes afterwards, so draining on /next, /response and /error orders the logs."""
        if rt is None or rt.fd is None:
            return
        with self.log_lock:
            if rt.fd_closed:
                return
            while True:
                try:
                    data = os.read(rt.fd, 65536)
                except OSError:  # BlockingIOError: nothing more for now
                    return
                if not data:
                    return
                self._append_log(data)

    def _append_log(self, data):
        """Caller holds self.log_lock."""
        self.logbuf += data
        if len(self.logbuf) > MAX_LOG_BYTES:
            del self.logbuf[: len(self.logbuf) - MAX_LOG_BYTES]

    # ---- LocalStack side ----

    def invoke_api(self, conn, req):
        if req.method != "POST" or req.path != "/invoke":
            if req.method == "GET" and req.path == "/health":
                conn.reply(200, b'{"status":"ok"}')
            else:
                conn.reply(404, b'{"errorMessage":"Not found"}')
            return
        try:
            inv = self.parse_invocation(req.body)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            conn.reply(400, json.dumps({"errorMessage": "bad invoke request: %s" % e}).encode())
            return
        conn.reply(self.submit(inv))

    @staticmethod
    def parse_invocation(raw):
        data = json.loads(raw)
        payload = data.get("payload")
        payload = b"" if payload is None else str(payload).encode("utf-8")
        return Invocation(
            str(data["invoke-id"]),
            payload,
            data.get("invoked-function-arn") or "",
            data.get("trace-id"),
        )

    def invoke_line(self, line):
        """One invocation from stdin (pipe transport); a refused one is answered at once."""
        try:
            inv = self.parse_invocation(line)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            _log("bad invoke line: %s" % e)
            return
        status = self.submit(inv)
        if status != 202:
            self.write_frame("reject", inv.request_id, b"", str(status).encode())

    def write_frame(self, kind, request_id, logs, body):
        head = ("LSH-RESULT %s %s %d %d\n" % (kind, request_id, len(logs), len(body))).encode()
        data = memoryview(head + logs + body)
        with self.out_lock:
            try:
                while data:
                    data = data[os.write(1, data):]
            except OSError as e:  # LocalStack is gone: the lifeline ends this process
                _log("cannot write the result of %s: %s" % (request_id, e))

    def submit(self, inv):
        with self.lock:
            if self.closing:
                return 503
            if self.inv is not None and not self.inv.finished:
                return 409
            self.inv = inv
            inv.timer = threading.Timer(
                self.timeout + INIT_ALLOWANCE_SECONDS, self._on_timeout, (inv,)
            )
            inv.timer.daemon = True
            inv.timer.start()
            if self.rt is None:
                self.request_spawn()
            self.cv.notify_all()
        return 202

    def _mark_finished(self, inv):
        """Caller holds self.lock."""
        inv.finished = True
        if inv.timer is not None:
            inv.timer.cancel()
        if self.inv is inv:
            self.inv = None
        self.cv.notify_all()

    def _finish(self, inv, kind, body, extra_lines, rt, max_memory=None):
        """Post the logs, then the result, to LocalStack (logs after the result are lost)."""
        now = time.monotonic()
        self._drain(rt)
        rid = inv.request_id
        started = inv.dispatched_at if inv.dispatched_at is not None else inv.arrived
        duration = (now - started) * 1000.0
        billed = max(1, int(-(-duration // 1)))
        report = "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms" % (
            rid,
            duration,
            billed,
        )
        if self.memory:
            report += "\tMemory Size: %s MB" % self.memory
        if max_memory is None and rt is not None and rt.pid is not None and not rt.killed:
            max_memory = _max_memory_mb(rt.pid) if rt in self.alive else None
        if max_memory is not None:
            report += "\tMax Memory Used: %d MB" % max_memory
        if rt is not None and rt.first_next_at is not None and not rt.init_reported:
            rt.init_reported = True
            report += "\tInit Duration: %.2f ms" % ((rt.first_next_at - rt.spawned_at) * 1000.0)
        with self.log_lock:
            if inv.dispatched_at is None:
                self.logbuf += ("START RequestId: %s Version: %s\n" % (rid, self.version)).encode()
            if self.logbuf and not self.logbuf.endswith(b"\n"):
                self.logbuf += b"\n"
            for line in extra_lines:
                self.logbuf += line.encode("utf-8", "replace")
            self.logbuf += ("END RequestId: %s\n%s\n" % (rid, report)).encode()
            text = self.logbuf.decode("utf-8", "replace")
            self.logbuf.clear()
        if self.pipe:
            self.write_frame(kind, rid, text.encode("utf-8"), body)
            return
        self.callback.post("/invocations/%s/logs" % rid, json.dumps({"logs": text}).encode())
        self.callback.post("/invocations/%s/%s" % (rid, kind), body)

    def _on_timeout(self, inv):
        with self.lock:
            if inv.finished:
                return
            rt = inv.runtime if inv.runtime is not None else self.rt
            self._mark_finished(inv)
            max_memory = None
            if rt is not None:
                if rt in self.alive:
                    max_memory = _max_memory_mb(rt.pid)
                if self.rt is rt:
                    self.rt = None  # retire this generation before anything else can reach it
                self._kill_locked(rt)
                # wait for it to die (reaped by _wait_runtime) so its last output is collected
                deadline = time.monotonic() + 5
                while rt.pid is not None and not rt.exited and time.monotonic() < deadline:
                    self.cv.wait(0.1)
        message = "Task timed out after %.2f seconds" % self.timeout
        body = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "RequestId: %s Error: %s" % (inv.request_id, message),
        }
        line = "%s %s %s\n" % (_iso_now(), inv.request_id, message)
        self._finish(inv, "error", json.dumps(body).encode(), [line], rt, max_memory)
        with self.lock:
            self.request_spawn()  # a fresh runtime for the next invocation

    # ---- runtime side ----

    def runtime_api(self, conn, req, rt):
        path = req.path
        if req.method == "GET" and path == API + "/invocation/next":
            self.runtime_next(conn, rt)
        elif req.method == "POST" and path == API + "/init/error":
            self.runtime_init_error(conn, rt, req.body)
        elif req.method == "POST" and path.startswith(API + "/invocation/"):
            request_id, _, action = path[len(API + "/invocation/") :].rpartition("/")
            if action in ("response", "error"):
                self.runtime_result(conn, rt, request_id, action, req)
            else:
                conn.reply(404, b'{"errorMessage":"Not found","errorType":"NotFound"}')
        else:
            conn.reply(404, b'{"errorMessage":"Not found","errorType":"NotFound"}')

    def runtime_next(self, conn, rt):
        with self.lock:
            if rt.first_next_at is None:
                rt.first_next_at = time.monotonic()
            while True:
                if self.closing or rt is not self.rt or rt.killed:
                    inv = None
                    break
                inv = self.inv
                if inv is not None and not inv.finished and inv.dispatched_at is None:
                    break
                self.cv.wait()
            if inv is not None:
                inv.dispatched_at = time.monotonic()
                inv.runtime = rt
                if inv.timer is not None:
                    inv.timer.cancel()
                inv.timer = threading.Timer(self.timeout, self._on_timeout, (inv,))
                inv.timer.daemon = True
                inv.timer.start()
                deadline_ms = int((time.time() + self.timeout) * 1000)
        if inv is None:
            conn.close_after = True
            conn.reply(410, b'{"errorMessage":"This runtime was retired","errorType":"Gone"}')
            return
        # output written before this /next (init logs) comes before START
        self._drain(rt)
        with self.log_lock:
            self.logbuf += (
                "START RequestId: %s Version: %s\n" % (inv.request_id, self.version)
            ).encode()
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.arn,
        }
        if inv.trace_id:
            headers["Lambda-Runtime-Trace-Id"] = inv.trace_id
        conn.reply(200, inv.payload, headers)  # OSError if the runtime died: _wait_runtime reports

    def runtime_result(self, conn, rt, request_id, kind, req):
        with self.lock:
            inv = self.inv
            ok = (
                inv is not None
                and not inv.finished
                and inv.runtime is rt
                and inv.request_id == request_id
            )
            if ok:
                self._mark_finished(inv)
        if not ok:
            body = {
                "errorMessage": "Invalid request ID: %s" % request_id,
                "errorType": "InvalidRequestID",
            }
            conn.reply(400, json.dumps(body).encode())
            return
        body = req.body
        if kind == "error":
            try:
                json.loads(body)
            except ValueError:
                error_type = req.headers.get("lambda-runtime-function-error-type") or "Unhandled"
                body = json.dumps(
                    {"errorType": error_type, "errorMessage": body.decode("utf-8", "replace")}
                ).encode()
        self._finish(inv, kind, body, [], rt)
        conn.reply(202, b'{"status":"OK"}')

    def runtime_init_error(self, conn, rt, body):
        with self.lock:
            rt.init_error = body or b"{}"
            inv = self.inv
            fail = (
                rt is self.rt
                and inv is not None
                and not inv.finished
                and inv.dispatched_at is None
            )
            if fail:
                self._mark_finished(inv)
        if fail:
            self._finish(inv, "error", rt.init_error, [], rt)
        conn.reply(202, b'{"status":"OK"}')

    # ---- shutdown ----

    def terminate(self, reason):
        # may run in a signal handler on the main thread, which can hold self.lock: never block
        locked = self.lock.acquire(timeout=1)
        try:
            self.closing = True
            for rt in list(self.alive):
                self._kill_locked(rt)
        finally:
            if locked:
                self.lock.release()
        _log("exiting: %s" % reason)
        os._exit(0)


def main():
    line = sys.stdin.buffer.readline()
    if not line:
        return
    bridge = Bridge(json.loads(line))

    def on_signal(signum, frame):
        bridge.terminate("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin():
        pending = b""
        try:
            while True:
                data = os.read(0, 262144)
                if not data:
                    break
                if not bridge.pipe:
                    continue
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        bridge.invoke_line(line)
        except OSError:
            pass
        bridge.terminate("stdin closed (LocalStack stopped this environment or is gone)")

    threading.Thread(target=watch_stdin, name="lifeline", daemon=True).start()
    server = HttpServer(bridge.invoke_api, "invoke-api")
    with bridge.lock:
        bridge.request_spawn()
    sys.stdout.write("%s %d\n" % (READY_PREFIX, server.port))
    sys.stdout.flush()
    bridge.run_main_loop()


if __name__ == "__main__":
    main()
