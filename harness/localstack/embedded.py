"""Backend ``embedded`` (the default): LocalStack's open-source runtime as a host subprocess.

No Docker: LocalStack 4.8.1 runs from its own cached venv (see :mod:`harness.localstack.venvs`)
on a free loopback port, with this project's plugins (moto DynamoDB, the ``process`` Lambda
executor). Everything it writes goes into a run folder of its own, removed on stop.

It never outlives the test run: it is stopped on exit, on failure and on Ctrl-C, and it watches a
pipe from this process (``LSH_LIFELINE``), so even a SIGKILLed pytest takes it down.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Mapping

from harness._progress import Progress, print_progress
from harness.errors import LocalStackStartError
from harness.localstack import processes, venvs
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
    "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "0.1",
    # record every SNS topic publish for the stuck-event trace (lsh_localstack_plugins.sns_log)
    "LSH_SNS_PUBLISH_LOG": "1",
}
#: host variables that would point LocalStack (or its Lambda functions) somewhere else
_DROPPED_HOST_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "AWS_ENDPOINT_URL",
                      "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "DOCKER_HOST", "LOCALSTACK_AUTH_TOKEN")
LOG_TAIL_LINES = 40


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
        self.run_id = uuid.uuid4().hex[:12]
        self.run_dir: Path | None = None
        self.process: subprocess.Popen | None = None
        self.localstack: LocalStack | None = None
        #: processes that were still alive after LocalStack stopped, and had to be killed
        self.killed_leftovers: list[str] = []

    @property
    def log_path(self) -> Path | None:
        return self.run_dir / "localstack.log" if self.run_dir else None

    def environment(self, port: int) -> dict[str, str]:
        """The environment LocalStack is started with."""
        ls_venv = venvs.localstack_venv(self.progress)
        fn_venv = venvs.function_venv(self.progress)
        assert self.run_dir is not None
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_HOST_VARS}
        env.update(DEFAULT_SETTINGS)
        env.update({
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
            "FILESYSTEM_ROOT": str(self.run_dir / "filesystem"),
            "TMPDIR": str(self.run_dir / "tmp"),
            "XDG_CACHE_HOME": str(venvs.plux_cache_dir(ls_venv)),
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
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"lsh-{self.run_id}-"))
        (self.run_dir / "tmp").mkdir()
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
        self._wait_ready(endpoint, started)
        elapsed = time.monotonic() - started
        self.progress(f"LocalStack ready at {endpoint} in {elapsed:.1f} s")
        self.localstack = LocalStack(endpoint, self.region, backend=self.name, details={
            "pid": self.process.pid, "log": str(self.log_path), "run_id": self.run_id,
            "startup_seconds": round(elapsed, 3), "version": venvs.LOCALSTACK_VERSION})
        return self.localstack

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
        return "see its log below"

    def _fail(self, reason: str) -> None:
        tail = _tail(self.log_path) if self.log_path else ""
        log_path = str(self.log_path) if self.log_path else None
        self.keep_run_dir = True  # keep the full log for whoever reads the error
        self.stop()
        raise LocalStackStartError(reason, tail, log_path)

    def stop(self) -> None:
        """Stop LocalStack and everything it started. Idempotent; safe from atexit."""
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=15)
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
