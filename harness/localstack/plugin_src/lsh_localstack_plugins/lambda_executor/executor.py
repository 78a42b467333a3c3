"""``ProcessRuntimeExecutor``: LocalStack Lambda execution environments as host processes.

Selected with ``LAMBDA_RUNTIME_EXECUTOR=process``. Each execution environment is one ``bridge.py``
process run by the function Python named by ``LSH_FUNCTION_PYTHON`` (a venv holding
``awslambdaric`` and ``boto3``, like AWS's Python runtimes); the bridge runs AWS's runtime
interface client with the function's code; for ``nodejs*`` runtimes the bridge runs
``node_runtime.js`` on the machine's ``node`` instead (see docs/node-functions.md). No Docker.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    InvokeSendError,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from lsh_localstack_plugins.lambda_executor import code_cache
from lsh_localstack_plugins.lambda_executor.node_sdk import NodeSdkError, resolve_node_modules

LOG = logging.getLogger(__name__)

FUNCTION_PYTHON_ENV = "LSH_FUNCTION_PYTHON"
FUNCTION_NODE_ENV = "LSH_FUNCTION_NODE"
BRIDGE_PATH = Path(__file__).with_name("bridge.py")
NODE_RUNTIME_PATH = Path(__file__).with_name("node_runtime.js")
READY_PREFIX = "LSH-BRIDGE-READY"
RESULT_PREFIX = b"LSH-RESULT "
#: ``LSH_LAMBDA_PIPE=0``: invocations go to the bridge by HTTP and results come back through
#: LocalStack's executor endpoint (two more HTTP requests through the gateway per invocation),
#: as with LocalStack's own runtimes; otherwise both go over the bridge's stdin and stdout.
PIPE_ENV = "LSH_LAMBDA_PIPE"
# LocalStack's own bound on waiting for a result (the longest Lambda timeout plus 5 s)
MAX_INVOKE_WAIT_S = 905

# LocalStack-internal variables the function must not see (its own variables are kept).
_INTERNAL_ENV = {
    "LOCALSTACK_RUNTIME_ID",
    "LOCALSTACK_RUNTIME_ENDPOINT",
    "LOCALSTACK_FUNCTION_ACCOUNT_ID",
    "LOCALSTACK_USER",
    "LOCALSTACK_INIT_LOG_LEVEL",
    "LOCALSTACK_POST_INVOKE_WAIT_MS",
    "LOCALSTACK_MAX_PAYLOAD_SIZE",
    "LOCALSTACK_CHMOD_PATHS",
    "LOCALSTACK_HOT_RELOADING_PATHS",
    "LAMBDA_RUNTIME_DIR",
}


def _function_python() -> str:
    python = os.environ.get(FUNCTION_PYTHON_ENV)
    if not python:
        raise LambdaRuntimeException(
            f"The 'process' Lambda executor needs the environment variable {FUNCTION_PYTHON_ENV} "
            "(the Python interpreter of a virtualenv holding awslambdaric and boto3), "
            "and LocalStack was started without it"
        )
    if not os.access(python, os.X_OK):
        raise LambdaRuntimeException(
            f"{FUNCTION_PYTHON_ENV}={python} is not an executable Python interpreter"
        )
    return python


def _check_runtime(function_version: FunctionVersion) -> None:
    cfg = function_version.config
    if cfg.package_type != PackageType.Zip:
        raise LambdaRuntimeException(
            "The 'process' Lambda executor runs only .zip functions with a python3.x or nodejs "
            f"runtime; package type {cfg.package_type} (container image) is not supported"
        )
    runtime = str(cfg.runtime or "")
    if not (runtime.startswith("python3") or _is_node(runtime)):
        raise LambdaRuntimeException(
            f"The 'process' Lambda executor runs only python3.x and nodejs runtimes; runtime "
            f"'{runtime}' is not supported"
        )


def _is_node(runtime: object) -> bool:
    return str(runtime or "").startswith("nodejs")


def _function_node() -> str:
    """The ``node`` that runs nodejs functions: ``$LSH_FUNCTION_NODE``, else ``node`` on PATH."""
    node = os.environ.get(FUNCTION_NODE_ENV) or shutil.which("node")
    if not node or not os.access(node, os.X_OK):
        raise LambdaRuntimeException(
            "The 'process' Lambda executor runs nodejs functions with the machine's node and "
            f"found none: install Node.js 20.6 or later, or set {FUNCTION_NODE_ENV} to a node binary"
        )
    version = _interpreter_version(node, True)
    try:
        too_old = tuple(int(p) for p in version.split(".")[:2]) < (20, 6)
    except ValueError:
        too_old = False  # could not ask: let the runtime's own start-up say what is wrong
    if too_old:
        raise LambdaRuntimeException(
            f"The 'process' Lambda executor runs nodejs functions with {node}, which is Node.js "
            f"{version}; it needs 20.6 or later (the AWS SDK v3 and ES-module loading): install a "
            f"newer Node.js or set {FUNCTION_NODE_ENV} to one"
        )
    return node


def _node_runtime_command(node: str) -> list[str]:
    """node_runtime.js under ``setpriv --pdeathsig KILL`` (dies with its bridge, as the Python
    runtime does through prctl) when util-linux's setpriv is there."""
    command = [node, str(NODE_RUNTIME_PATH)]
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", *command] if setpriv else command


@functools.lru_cache(maxsize=None)
def _interpreter_version(executable: str, node: bool) -> str:
    """``3.11`` / ``20.20.2``: the version the functions really run on (asked once)."""
    code = ["-p", "process.versions.node"] if node else [
        "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    try:
        out = subprocess.run([executable, *code], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_noted_functions: set[str] = set()


def _note_interpreter(function_version: FunctionVersion, executable: str) -> str | None:
    """Say once per function when it runs on another interpreter version than it declares."""
    runtime = str(function_version.config.runtime or "")
    node = _is_node(runtime)
    real = _interpreter_version(executable, node)
    declared = runtime[len("nodejs"):].split(".")[0] if node else runtime[len("python"):]
    same = real.split(".")[0] == declared if node else real == declared
    if same:
        return None
    message = (
        f"Lambda function {function_version.id.function_name} declares {runtime} and runs on "
        f"{'node' if node else 'Python'} {real} ({executable}): the 'process' executor runs "
        "functions on the machine's interpreter"
    )
    key = function_version.id.unqualified_arn()
    if key not in _noted_functions:
        _noted_functions.add(key)
        LOG.warning("%s", message)
    return message


def _node_modules() -> Path:
    try:
        return resolve_node_modules(os.environ.get(FUNCTION_PYTHON_ENV), LOG.info)
    except NodeSdkError as e:
        raise LambdaRuntimeException(str(e)) from e


def _node_path(runtime: str, code_dir: str, layer_dirs: list[str]) -> str:
    """AWS: /opt/nodejs/node<major>/node_modules:/opt/nodejs/node_modules:
    /var/runtime/node_modules:/var/runtime:/var/task (layers in /opt, the SDK in /var/runtime)."""
    major = runtime[len("nodejs"):].split(".")[0]
    found = [
        os.path.join(d, "nodejs", sub, "node_modules")
        for d in reversed(layer_dirs)
        for sub in (f"node{major}", "")
    ]
    dirs = [os.path.normpath(d) for d in found if os.path.isdir(d)]
    return os.pathsep.join(dirs + [str(_node_modules()), code_dir])


def _gateway_host() -> str:
    host = config.GATEWAY_LISTEN[0].host
    if not host or host in ("0.0.0.0", "::", "[::]") or ":" in host:
        return "127.0.0.1"
    return host


class ProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(
            self.id, container_address="127.0.0.1", container_port=None
        )
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=300)
        self._bridge_config: dict = {}
        self._write_lock = threading.Lock()

    # ---- lifecycle ----

    def start(self, env_vars: dict[str, str]) -> None:
        python = _function_python()
        cfg = self.function_version.config
        node = _function_node() if _is_node(cfg.runtime) else None
        self.executor_endpoint.start()
        # normally done by prepare_version already (then a cheap check); also covers a code
        # cache that went away since
        cfg.code.prepare_for_execution()
        for layer in cfg.layers or []:
            layer.code.prepare_for_execution()
        code_dir = str(cfg.code.get_unzipped_code_location())
        layer_dirs = [str(layer.code.get_unzipped_code_location()) for layer in cfg.layers or []]
        bridge_config = {
            "python": python,
            "handler": cfg.handler,
            "code_dir": code_dir,
            "timeout": cfg.timeout,
            "memory_size": cfg.memory_size,
            "function_version": self.function_version.id.qualifier,
            "runtime_endpoint": env_vars.get("LOCALSTACK_RUNTIME_ENDPOINT")
            or self.get_runtime_endpoint(),
            "env": self._function_env(env_vars, node or python, code_dir, layer_dirs),
        }
        if os.environ.get(PIPE_ENV, "1").strip() != "0":
            bridge_config["transport"] = "pipe"
        if node:
            bridge_config["runtime_command"] = _node_runtime_command(node)
        self._launch(bridge_config)

    def _launch(self, bridge_config: dict) -> None:
        """Start the bridge process and wait for its handshake."""
        self._bridge_config = bridge_config
        bridge_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
        }
        if os.environ.get("LSH_RUN_ID"):  # the harness finds (and reaps) its processes by this tag
            bridge_env["LSH_RUN_ID"] = os.environ["LSH_RUN_ID"]
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Execution environment {self.id} was stopped")
            self._proc = subprocess.Popen(
                [bridge_config["python"], "-I", "-S", str(BRIDGE_PATH)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=bridge_config["code_dir"],
                env=bridge_env,
                start_new_session=True,  # own process group: stop() kills it as a whole
                close_fds=True,  # no other environment's lifeline pipe leaks into this one
            )
            proc = self._proc
        threading.Thread(
            target=self._read_stderr, args=(proc,), name=f"lambda-env-{self.id}-stderr", daemon=True
        ).start()
        try:
            proc.stdin.write(json.dumps(bridge_config).encode() + b"\n")
            proc.stdin.flush()
        except OSError as e:
            raise LambdaRuntimeException(
                f"Execution environment {self.id} exited at start: {e}; {self._tail()}"
            ) from e
        port = self._wait_ready(proc)
        self.executor_endpoint.container_port = port
        threading.Thread(
            target=self._watch, args=(proc,), name=f"lambda-env-{self.id}-watch", daemon=True
        ).start()
        if bridge_config.get("transport") == "pipe":
            threading.Thread(
                target=self._read_results, args=(proc,), name=f"lambda-env-{self.id}-results",
                daemon=True,
            ).start()

    def _read_results(self, proc: subprocess.Popen) -> None:
        """Pipe transport: result frames from the bridge's stdout resolve the invocation."""
        out = proc.stdout
        try:
            while True:
                head = out.readline()
                if not head:
                    return  # the process is gone: _watch fails a pending invocation
                if not head.startswith(RESULT_PREFIX):
                    self._stderr_tail.append(head.decode("utf-8", "replace").rstrip())
                    continue
                kind, request_id, n_logs, n_body = head[len(RESULT_PREFIX):].decode().split()
                logs = out.read(int(n_logs)).decode("utf-8", "replace")
                body = out.read(int(n_body))
                self._resolve(proc, kind, request_id, logs, body)
        except (OSError, ValueError) as e:
            if not self._stopped and proc is self._proc:
                LOG.warning("Lambda execution environment %s: bad result stream: %s", self.id, e)

    def _resolve(
        self, proc: subprocess.Popen, kind: str, request_id: str, logs: str, body: bytes
    ) -> None:
        endpoint = self.executor_endpoint
        future = endpoint.invocation_future
        if proc is not self._proc or future is None or future.done():
            return
        if getattr(future, "lsh_request_id", None) != request_id:
            LOG.debug("Lambda environment %s: result for %s, not the pending one", self.id,
                      request_id)
            return
        if kind == "reject":
            future.set_exception(InvokeSendError(
                f"Execution environment {self.id} refused invocation {request_id} "
                f"(status {body.decode(errors='replace')})"))
            return
        endpoint.logs = logs
        try:
            future.set_result(InvocationResult(request_id, body, is_error=kind == "error",
                                               logs=logs))
        except Exception:  # resolved concurrently (the environment died meanwhile)
            pass

    def _wait_ready(self, proc: subprocess.Popen) -> int:
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT + 5
        fd = proc.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LambdaRuntimeException(
                    f"Execution environment {self.id} did not start in time; {self._tail()}"
                )
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            line = proc.stdout.readline().decode("utf-8", "replace").strip()
            if not line:
                time.sleep(0.05)  # let the stderr reader catch the bridge's last words
                raise LambdaRuntimeException(
                    f"Execution environment {self.id} exited during startup; {self._tail()}"
                )
            if line.startswith(READY_PREFIX):
                return int(line.split()[1])
            self._stderr_tail.append(line)

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        try:
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self._stderr_tail.append(line)
                LOG.debug("[lambda %s] %s", self.id, line)
        except (OSError, ValueError):
            pass
        finally:
            proc.stderr.close()

    def _tail(self) -> str:
        tail = "\n".join(self._stderr_tail)
        return f"environment output:\n{tail}" if tail else "no output from the environment"

    def _watch(self, proc: subprocess.Popen) -> None:
        """If the environment process dies while LocalStack waits for a result, fail that
        invocation now instead of LocalStack's 905 s wait."""
        try:
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return
        if self._stopped or proc is not self._proc:
            return
        LOG.warning(
            "Lambda execution environment %s exited unexpectedly; %s", self.id, self._tail()
        )
        future = self.executor_endpoint.invocation_future
        if future is not None and not future.done():
            body = json.dumps(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": "Error: the execution environment exited unexpectedly",
                }
            ).encode()
            try:
                future.set_result(
                    InvocationResult("", body, is_error=True, logs=self._tail() + "\n")
                )
            except Exception:  # already resolved concurrently
                pass

    def _alive(self) -> bool:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return False
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            proc = self._proc
        if proc is not None and proc.returncode is None:
            try:
                proc.stdin.close()  # the lifeline: the bridge kills its runtime and exits
            except OSError:
                pass
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                # not reaped yet, so the group id is still ours
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.wait()
        if proc is not None:
            # stderr is closed by its reader thread at end-of-file
            try:
                proc.stdout.close()
            except Exception:
                pass
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:
            LOG.debug("Error while stopping executor endpoint of %s: %s", self.id, e)

    # ---- addresses ----

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return _gateway_host()

    def get_runtime_endpoint(self) -> str:
        return (
            f"http://{self.get_endpoint_from_executor()}:{config.GATEWAY_LISTEN[0].port}"
            f"{self.executor_endpoint.get_endpoint_prefix()}"
        )

    # ---- invocations ----

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        if not self._alive():
            # The environment process died (killed from outside; its invocation, if any, was
            # already failed by _watch). LocalStack would keep handing out this environment and
            # fail every invocation on it, so start a fresh process in its place.
            LOG.warning("Restarting Lambda execution environment %s: its process is gone", self.id)
            self._discard_process()
            self._launch(self._bridge_config)
        if self._bridge_config.get("transport") != "pipe":
            return self.executor_endpoint.invoke(payload)
        endpoint = self.executor_endpoint
        future: Future[InvocationResult] = Future()
        future.lsh_request_id = str(payload["invoke-id"])
        endpoint.logs = None
        endpoint.invocation_future = future
        line = json.dumps(payload).encode() + b"\n"
        proc = self._proc
        try:
            with self._write_lock:
                proc.stdin.write(line)
                proc.stdin.flush()
        except (OSError, ValueError, AttributeError) as e:
            raise InvokeSendError(
                f"Error while sending an invocation to execution environment {self.id}: {e}"
            ) from e
        return future.result(timeout=MAX_INVOKE_WAIT_S)

    def _discard_process(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(timeout=1)  # already dead: just reap it
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except Exception:
                pass

    def get_logs(self) -> str:
        return "\n".join(self._stderr_tail)

    # ---- environment ----

    def _function_env(
        self, env_vars: dict, python: str, code_dir: str, layer_dirs: list[str]
    ) -> dict[str, str]:
        cfg = self.function_version.config
        own = dict(cfg.environment or {})
        env = {
            k: str(v)
            for k, v in env_vars.items()
            if v is not None and (k not in _INTERNAL_ENV or k in own)
        }
        env["LAMBDA_TASK_ROOT"] = code_dir
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{cfg.runtime}"
        env.setdefault("LANG", "C.UTF-8")
        def layer_subdirs(name: str) -> list[str]:
            found = (os.path.join(d, name) for d in layer_dirs)
            return [path for path in found if os.path.isdir(path)]

        if "PATH" not in own:  # AWS: /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin
            path = [os.path.dirname(python), "/usr/local/bin", "/usr/bin", "/bin"]
            env["PATH"] = os.pathsep.join(path + layer_subdirs("bin"))
        if _is_node(cfg.runtime) and "NODE_PATH" not in own:
            env["NODE_PATH"] = _node_path(str(cfg.runtime), code_dir, layer_dirs)
        # Layers: AWS extracts them into /opt in order (a later layer overwrites an earlier one)
        # and puts /opt/python/lib/pythonX.Y/site-packages and /opt/python on sys.path.
        python_path = []
        for layer_dir in reversed(layer_dirs):
            lib = os.path.join(layer_dir, "python", "lib")
            if os.path.isdir(lib):
                site_dirs = (os.path.join(lib, name, "site-packages")
                             for name in os.listdir(lib) if name.startswith("python"))
                python_path += sorted(d for d in site_dirs if os.path.isdir(d))
            if os.path.isdir(os.path.join(layer_dir, "python")):
                python_path.append(os.path.join(layer_dir, "python"))
        if python_path or own.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.pathsep.join(
                python_path + ([own["PYTHONPATH"]] if own.get("PYTHONPATH") else [])
            )
        lib_dirs = layer_subdirs("lib")
        if lib_dirs and "LD_LIBRARY_PATH" not in own:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(lib_dirs)
        logging_config = cfg.logging_config or {}
        if logging_config.get("LogFormat") == "JSON":
            env.setdefault("AWS_LAMBDA_LOG_FORMAT", "JSON")
            if logging_config.get("ApplicationLogLevel"):
                env.setdefault("AWS_LAMBDA_LOG_LEVEL", logging_config["ApplicationLogLevel"])
        return env

    # ---- versions ----

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        _check_runtime(function_version)
        python = _function_python()
        if _is_node(function_version.config.runtime):
            node = _function_node()
            _node_modules()  # installs the SDK on the first Node function (once per machine)
            _note_interpreter(function_version, node)
        else:
            _note_interpreter(function_version, python)
        cfg = function_version.config
        if cfg.code:
            code_cache.prepare_for_execution(cfg.code)
        for layer in cfg.layers or []:
            code_cache.prepare_for_execution(layer.code)  # the dependency layer: from the cache

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            _function_python()
        except LambdaRuntimeException as e:
            LOG.warning("%s", e)
            return False
        if sys.platform != "linux":
            LOG.warning("The 'process' Lambda executor is only tested on Linux")
        return True
