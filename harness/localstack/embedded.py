"""Backend ``embedded`` (the default): LocalStack's open-source runtime as a host subprocess.

No Docker: LocalStack 4.8.1 runs from its own cached venv (see :mod:`harness.localstack.venvs`)
on a free port of 127.0.0.1 only (``lsh_localstack_plugins.loopback``), with this project's
plugins (moto DynamoDB, the ``process`` Lambda executor). Its environment is an allow-list
(:data:`PASSED_HOST_VARS`): no credential, token, profile or AWS file of the user reaches it.
Everything it writes goes into a run folder of its own, removed on stop; its log goes into a log
folder that is removed after a clean run and kept after a failed or crashed one
(:mod:`harness.localstack.leftovers`).

It never outlives the test run: it is stopped on exit, on failure and on Ctrl-C, and it watches a
pipe from this process (``LSH_LIFELINE``), so even a SIGKILLed pytest takes it down; the next
start sweeps the run folders such runs leave. If LocalStack dies first, every later harness call
fails at once with :class:`~harness.errors.LocalStackDied` (how, when, its log's tail and path).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Mapping

from harness._progress import Progress, print_progress
from harness.errors import LocalStackDied, LocalStackStartError
from harness.localstack import leftovers, processes, venvs
from harness.localstack.base import DEFAULT_REGION, Backend, LocalStack, fetch_health

#: LocalStack settings for running offline on the host. Any can be overridden with ``settings=``.
DEFAULT_SETTINGS: dict[str, str] = {
    "DNS_ADDRESS": "0",  # else it binds port 53 and looks for DNS upstreams
    "SKIP_SSL_CERT_DOWNLOAD": "1",
    "DISABLE_EVENTS": "1",  # no analytics calls home
    "EAGER_SERVICE_LOADING": "0",
    "SQS_ENDPOINT_STRATEGY": "dynamic",
    "PROVIDER_OVERRIDE_DYNAMODB": "moto",
    "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
    "LAMBDA_RUNTIME_EXECUTOR": "process",
    # tests want events to flow fast; AWS polls continuously, LocalStack every second by default
    "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.05",
    "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "1",  # pushed: esm_push
    # record every SNS topic publish for the stuck-event trace (lsh_localstack_plugins.sns_log)
    "LSH_SNS_PUBLISH_LOG": "1",
}
#: the only variables of the caller's environment LocalStack gets (an allow-list: no AWS
#: credential, token, profile or config file of the user, nothing that points it elsewhere);
#: LocalStack settings go through ``settings=``, and ``LSH_*`` (our plugins' settings) pass too
PASSED_HOST_VARS = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "LS_LOG")
PASSED_HOST_PREFIX = "LSH_"
#: ``LSH_*`` variables of the harness itself that LocalStack has no use for
_HARNESS_ONLY_VARS = ("LSH_ENDPOINT", "LSH_BACKEND", "LSH_IMAGE", "LSH_CDK_APP", "LSH_PYTHON",
                      "LSH_CACHE_DIR")
LOG_TAIL_LINES = 40
#: on Ctrl-C / SIGTERM, how long LocalStack gets to shut down before it is killed
INTERRUPT_GRACE_SECONDS = 1.0


def describe_exit(code: int) -> str:
    """``code 3`` or ``signal SIGKILL`` for a Popen return code."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _grace_after(exc: BaseException | None) -> float:
    """Ctrl-C / SIGTERM: a short shutdown, so the caller stops within ~2 s."""
    return INTERRUPT_GRACE_SECONDS if isinstance(exc, KeyboardInterrupt) else 15.0


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip()
    except OSError:
        return ""


class EmbeddedBackend(Backend):
    name = "embedded"

    def __init__(self, port: int | None = None, region: str = DEFAULT_REGION,
                 settings: Mapping[str, str] | None = None, startup_timeout: float = 60.0,
                 progress: Progress = print_progress, keep_run_dir: bool = False):
        self.port = port
        self.region = region
        self.settings = dict(settings or {})
        self.startup_timeout = startup_timeout
        self.progress = progress
        self.keep_run_dir = keep_run_dir
        #: keep the log folder when stopping (a test failed; LocalStack died or failed to start)
        self.keep_logs = False
        self.run_id = uuid.uuid4().hex[:12]
        self.run_dir: Path | None = None
        self.log_dir: Path | None = None
        self._stopping = False
        self._death: LocalStackDied | None = None
        self._watcher: threading.Thread | None = None
        self.process: subprocess.Popen | None = None
        self.localstack: LocalStack | None = None
        #: processes that were still alive after LocalStack stopped, and had to be killed
        self.killed_leftovers: list[str] = []

    @property
    def log_path(self) -> Path | None:
        return self.log_dir / "localstack.log" if self.log_dir else None

    def environment(self, port: int) -> dict[str, str]:
        """The environment LocalStack is started with."""
        ls_venv = venvs.localstack_venv(self.progress)
        fn_venv = venvs.function_venv(self.progress)
        assert self.run_dir is not None
        env = {k: v for k, v in os.environ.items()
               if k in PASSED_HOST_VARS
               or (k.startswith(PASSED_HOST_PREFIX) and k not in _HARNESS_ONLY_VARS)}
        env.update(DEFAULT_SETTINGS)
        home = self.run_dir / "home"
        home.mkdir(exist_ok=True)
        env.update({
            "HOME": str(home),  # no ~/.aws of the user's
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
            "FILESYSTEM_ROOT": str(self.run_dir / "filesystem"),
            "TMPDIR": str(self.run_dir / "tmp"),
            "XDG_CACHE_HOME": str(venvs.plux_cache_dir(ls_venv)),
            # our plugins, from the folder of this source version (not the venv's site-packages)
            "PYTHONPATH": str(venvs.plugins_path(ls_venv)),
            "LSH_FUNCTION_PYTHON": str(fn_venv / "bin" / "python"),
            "LSH_LIFELINE": "stdin",
            processes.RUN_ID_VAR: self.run_id,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_DEFAULT_REGION": self.region,
        })
        env.update(self.settings)
        return env

    def start(self) -> LocalStack:
        if self.localstack:
            return self.localstack
        port = self.port or free_port()
        if self.port and port_in_use(port):
            raise LocalStackStartError(
                f"cannot start LocalStack: port {port} on 127.0.0.1 is already in use by another "
                "process. Stop that process, or choose another port (LSH_PORT / --lsh-port), or "
                "leave the port unset to get a free one.")
        leftovers.sweep()  # run folders and locks of runs that were SIGKILLed
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"lsh-{self.run_id}-"))
        leftovers.write_owner(self.run_dir)
        (self.run_dir / "tmp").mkdir()
        self.log_dir = leftovers.new_log_dir(self.run_id)
        self._stopping, self._death = False, None
        env = self.environment(port)
        python = venvs.localstack_venv(self.progress) / "bin" / "python"
        endpoint = f"http://127.0.0.1:{port}"
        self.progress(f"starting LocalStack {venvs.LOCALSTACK_VERSION} at {endpoint} "
                      f"(log: {self.log_path})")
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(python), "-m", "lsh_localstack_plugins.run"],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.run_dir, env=env, start_new_session=True,
            )
        atexit.register(self.stop)
        self._watcher = threading.Thread(target=self._watch, args=(self.process,),
                                         name="lsh-localstack-watch", daemon=True)
        self._watcher.start()
        self._wait_ready(endpoint, started)
        elapsed = time.monotonic() - started
        self.progress(f"LocalStack ready at {endpoint} in {elapsed:.1f} s")
        self.localstack = LocalStack(endpoint, self.region, backend=self.name, details={
            "pid": self.process.pid, "log": str(self.log_path), "run_id": self.run_id,
            "run_dir": str(self.run_dir), "log_dir": str(self.log_dir),
            "startup_seconds": round(elapsed, 3), "version": venvs.LOCALSTACK_VERSION},
            death=self.death)
        return self.localstack

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException as exc:
            self.stop(grace=_grace_after(exc))
            raise

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        self.stop(grace=_grace_after(exc))

    def _watch(self, proc: subprocess.Popen) -> None:
        """Wait for LocalStack to exit; an exit nobody asked for is recorded as its death."""
        code = proc.wait()
        if self._stopping:
            return
        self.keep_logs = True
        self._death = LocalStackDied(
            describe_exit(code), time.strftime("%H:%M:%S %Z"),
            _tail(self.log_path) if self.log_path else "",
            str(self.log_path) if self.log_path else None)

    def death(self) -> LocalStackDied | None:
        """The error to raise once LocalStack exited on its own (None while it runs).

        Exact at any moment: if the process has exited but the watcher has not recorded it yet,
        this waits (briefly) for the watcher."""
        if self._death is None and not self._stopping and self._exited():
            watcher = self._watcher
            if watcher is not None:
                watcher.join(timeout=2)
        return self._death

    def _exited(self) -> bool:
        proc = self.process
        if proc is None:
            return False
        try:  # WNOWAIT: look without reaping (the watcher reaps)
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True  # reaped already

    def _wait_ready(self, endpoint: str, started: float) -> None:
        assert self.process is not None
        deadline = started + self.startup_timeout
        while True:
            code = self.process.poll()
            if code is not None:
                self._fail(f"LocalStack exited with code {code} before it was ready "
                           f"({self._likely_cause()})")
            if fetch_health(endpoint, timeout=1.0) is not None:
                return
            if time.monotonic() > deadline:
                self._fail(f"LocalStack was not ready after {self.startup_timeout:.0f} s "
                           f"({self._likely_cause()}); raise the deadline with LSH_STARTUP_TIMEOUT "
                           "if this machine is just slow")
            time.sleep(0.05)

    def _likely_cause(self) -> str:
        log = _tail(self.log_path, 400) if self.log_path else ""
        if "Address already in use" in log or "address already in use" in log:
            return "its port is already in use by another process"
        if "ModuleNotFoundError" in log or "ImportError" in log:
            return (f"its virtualenv {venvs.localstack_venv_path()} is broken: delete that folder "
                    "and it is rebuilt on the next start")
        if not log.strip():
            return f"its log {self.log_path} is empty"
        return "see its log below"

    def _fail(self, reason: str) -> None:
        tail = _tail(self.log_path) if self.log_path else ""
        log_path = str(self.log_path) if self.log_path else None
        self.keep_logs = True  # keep the full log for whoever reads the error
        self.stop()
        raise LocalStackStartError(reason, tail, log_path)

    def stop(self, grace: float = 15.0) -> None:
        """Stop LocalStack and everything it started. Idempotent; safe from atexit.

        ``grace``: seconds LocalStack gets to shut down after SIGTERM before it is killed (an
        interrupted ``lsh up`` passes :data:`INTERRUPT_GRACE_SECONDS`).
        """
        self._stopping = True
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(timeout=5)
            if proc.stdin:
                proc.stdin.close()
            # Lambda environments live in process groups of their own; any still alive is killed
            self.killed_leftovers += processes.kill_run(self.run_id)
        self.localstack = None
        atexit.unregister(self.stop)
        if self.run_dir and not self.keep_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.log_dir and not (self.keep_logs or self.keep_run_dir):
            shutil.rmtree(self.log_dir, ignore_errors=True)

    @property
    def kept_logs(self) -> Path | None:
        """The log folder, when it is kept (after a failure or a crash) and still exists."""
        kept = self.keep_logs or self.keep_run_dir
        return self.log_dir if kept and self.log_dir and self.log_dir.is_dir() else None
