"""Backend ``testcontainers``: LocalStack in a Docker container, started with testcontainers-python.

Gives tests the same :class:`~harness.localstack.base.LocalStack` handle as the embedded backend
(endpoint ``http://127.0.0.1:<port>``), so every test runs unchanged on either.

- **Image**: this project's, built locally on first use (:mod:`.image`, no registry), holding our
  plugins (moto DynamoDB, the ``process`` Lambda executor, whose functions run *inside* the
  container). Or any other image through ``LSH_IMAGE`` / ``image=``: then nothing is built,
  ``LOCALSTACK_AUTH_TOKEN`` is passed through when set, and for an image without our plugins
  (no ``lsh.plugins`` label, e.g. ``localstack/localstack``) the plugin settings are left out and
  the Docker socket is mounted, so that image's own ``docker`` Lambda executor can start
  function containers (which needs a machine that can pull the Lambda runtime images).
- **Port**: a free host port P (or ``port=``), published on 127.0.0.1 only, and LocalStack
  listens on that same P inside the container (``GATEWAY_LISTEN=0.0.0.0:P``,
  ``LOCALSTACK_HOST=127.0.0.1:P``): URLs LocalStack hands out (queue URLs, stack outputs, the
  functions' ``AWS_ENDPOINT_URL``) then work both from the host and inside the container.
- **Ready**: testcontainers' ``LogMessageWaitStrategy`` on ``^Ready\\.$`` (polled every 50 ms);
  a container that exits first fails at once, with the tail of its log in the error.
- **Never outlives the run**: containers carry labels ``lsh.managed=true``, ``lsh.run=<id>``,
  ``lsh.pid=<pid of the test process>``. They are removed on ``stop()`` (fixture teardown, also
  after failures and Ctrl-C) and at exit (``atexit``). For a test process that is SIGKILLed (no
  atexit), a detached host-side reaper (:mod:`.reaper`, started before the container) holds a
  pipe from this process: end of file means we are gone, and it removes the run's containers.
  At each start, containers of ours whose test process no longer exists are removed too.
  (Testcontainers' own reaper, Ryuk, is an image that cannot be pulled here: it is disabled.)
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

from harness._progress import Progress, print_progress
from harness.config import HarnessConfig
from harness.errors import LocalStackDied, LocalStackStartError
from harness.extras import MissingExtra, require
from harness.localstack import leftovers, venvs
from harness.localstack.base import DEFAULT_REGION, Backend, LocalStack
from harness.localstack.containers import image as images
from harness.localstack.containers.docker_check import DockerUnavailable, docker_client
from harness.localstack.embedded import DEFAULT_SETTINGS, free_port, port_in_use
from harness.localstack.processes import pid_alive

LABEL_MANAGED = "lsh.managed"
LABEL_RUN = "lsh.run"
LABEL_PID = "lsh.pid"
LABEL_HOST = "lsh.host"
LOG_TAIL_LINES = 40
REAPER = Path(__file__).with_name("reaper.py")
#: settings given to an image without our plugins (its own Lambda executor, DynamoDB, DNS)
FOREIGN_IMAGE_SETTINGS: dict[str, str] = {
    "DISABLE_EVENTS": "1",
    "SQS_ENDPOINT_STRATEGY": "dynamic",
    "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.05",
}


def prepare_testcontainers_environment() -> None:
    """Settings testcontainers needs here; set before it is imported (it reads them then).

    Ryuk (its reaper) is an image that cannot be pulled; this VM has ``/.dockerenv``, so without
    ``docker_host`` mode it would look for containers through the bridge gateway.
    """
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    if "testcontainers.core.config" in sys.modules:  # imported before us: fix its config object
        from testcontainers.core.config import ConnectionMode, testcontainers_config

        if testcontainers_config.connection_mode_override is None:
            testcontainers_config.connection_mode_override = ConnectionMode(
                os.environ["TESTCONTAINERS_CONNECTION_MODE"])


def _testcontainers(module: str):
    """``testcontainers.<module>``, or :class:`DockerUnavailable` naming the extra to install."""
    prepare_testcontainers_environment()
    try:
        return require(f"testcontainers.{module}", "containers", "backend 'testcontainers'")
    except MissingExtra as exc:
        raise DockerUnavailable(str(exc)) from None


def _localstack_container_class():
    LocalStackContainer = _testcontainers("community.localstack").LocalStackContainer
    DockerContainer = _testcontainers("core.container").DockerContainer

    class Container(LocalStackContainer):
        def start(self):  # the wait strategy does the waiting (LocalStackContainer waits again)
            DockerContainer.start(self)
            return self

    return Container


def our_containers(client: Any, run_id: str | None = None) -> list[Any]:
    """Containers of this harness (all, or one run's), running or not."""
    label = f"{LABEL_RUN}={run_id}" if run_id else f"{LABEL_MANAGED}=true"
    return client.containers.list(all=True, filters={"label": label})


def remove_orphans(client: Any) -> list[str]:
    """Remove containers of ours (this host) whose test process is gone; return their names."""
    removed = []
    for container in our_containers(client):
        labels = container.labels or {}
        pid = labels.get(LABEL_PID, "")
        if labels.get(LABEL_HOST) != socket.gethostname() or not pid.isdigit():
            continue
        if not pid_alive(int(pid)):
            try:
                container.remove(force=True)
                removed.append(container.name)
            except Exception:
                pass
    return removed


class TestcontainersBackend(Backend):
    __test__ = False  # not a pytest test class, whatever its name says
    name = "testcontainers"

    def __init__(self, port: int | None = None, region: str = DEFAULT_REGION,
                 settings: Mapping[str, str] | None = None, startup_timeout: float = 60.0,
                 image: str | None = None, progress: Progress = print_progress):
        self.port = port
        self.region = region
        self.settings = dict(settings or {})
        self.startup_timeout = startup_timeout
        self.image = image or HarnessConfig.from_env().image
        self.progress = progress
        self.run_id = uuid.uuid4().hex[:12]
        self.container: Any = None
        self.localstack: LocalStack | None = None
        self._reaper: subprocess.Popen | None = None
        self._log_tail = ""
        self._stopping = False
        self._death: LocalStackDied | None = None

    # ---- configuration ----

    def labels(self) -> dict[str, str]:
        return {LABEL_MANAGED: "true", LABEL_RUN: self.run_id, LABEL_PID: str(os.getpid()),
                LABEL_HOST: socket.gethostname(), "lsh.backend": self.name}

    def environment(self, port: int, own_image: bool) -> dict[str, str]:
        """The container's environment (LocalStack settings)."""
        env = dict(DEFAULT_SETTINGS) if own_image else dict(FOREIGN_IMAGE_SETTINGS)
        env.update({
            "GATEWAY_LISTEN": f"0.0.0.0:{port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        })
        if own_image:
            env["LSH_FUNCTION_PYTHON"] = images.FUNCTION_PYTHON
        # the user's LocalStack token goes only to a foreign image that may need it (ours never)
        if not own_image and os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            env["LOCALSTACK_AUTH_TOKEN"] = os.environ["LOCALSTACK_AUTH_TOKEN"]
        env.update(self.settings)
        return env

    # ---- lifecycle ----

    def start(self) -> LocalStack:
        if self.localstack:
            return self.localstack
        started = time.monotonic()
        _testcontainers("core.container")  # missing: say so before an image build, not after
        client = docker_client()
        try:
            removed = remove_orphans(client)
            if self.image:
                image, own = self.image, self._has_plugins(client, self.image)
            else:
                image, own = images.current_image(client) or images.ensure_image(self.progress), True
        finally:
            client.close()
        if removed:
            self.progress(f"removed {len(removed)} LocalStack container(s) left by dead test "
                          f"processes: {', '.join(removed)}")
        if self.port and port_in_use(self.port):
            raise LocalStackStartError(
                f"cannot start LocalStack: port {self.port} on 127.0.0.1 is already in use by "
                "another process. Stop it, choose another port (LSH_PORT / --lsh-port), or leave "
                "the port unset to get a free one.")
        self._start_reaper()
        atexit.register(self.stop)
        for attempt in range(3):
            port = self.port or free_port()
            try:
                self._start_container(image, own, port)
                break
            except _PortTaken:
                if self.port or attempt == 2:
                    self._fail(f"port {port} on 127.0.0.1 was taken while LocalStack started")
        elapsed = time.monotonic() - started
        endpoint = f"http://127.0.0.1:{port}"
        self.progress(f"LocalStack ready at {endpoint} in {elapsed:.1f} s (container "
                      f"{self.container.get_wrapped_container().name}, image {image})")
        self.localstack = LocalStack(endpoint, self.region, backend=self.name, details={
            "container_id": self.container.get_wrapped_container().id,
            "container_name": self.container.get_wrapped_container().name,
            "image": image, "image_has_plugins": own, "run_id": self.run_id,
            "startup_seconds": round(elapsed, 3), "version": venvs.LOCALSTACK_VERSION if own
            else None}, death=self.death)
        self._stopping = False
        threading.Thread(target=self._watch, args=(self.container.get_wrapped_container().id,),
                         name="lsh-container-watch", daemon=True).start()
        return self.localstack

    def _watch(self, container_id: str) -> None:
        """Wait for the container to exit; an exit nobody asked for is recorded as its death,
        with its log kept in a log folder (the container itself is removed on stop)."""
        try:
            client = docker_client()
            container = client.containers.get(container_id)
            code = container.wait()["StatusCode"]
            log = container.logs().decode(errors="replace")
        except Exception:  # removed (stop) or Docker gone: nothing to report here
            return
        if self._stopping:
            return
        how = f"code {code}" + (" (SIGKILL, or out of memory)" if code == 137 else "")
        log_path = leftovers.new_log_dir(self.run_id) / "localstack.log"
        log_path.write_text(log)
        tail = "\n".join(log.rstrip().splitlines()[-LOG_TAIL_LINES:])
        self._death = LocalStackDied(how, time.strftime("%H:%M:%S %Z"), tail, str(log_path))

    def death(self) -> LocalStackDied | None:
        """The error to raise once the container exited on its own (None while it runs)."""
        return self._death

    @staticmethod
    def _has_plugins(client: Any, image: str) -> bool:
        try:
            labels = client.images.get(image).labels or {}
        except Exception:  # not here (yet): testcontainers will try to pull it
            return False
        return bool(labels.get(images.LABEL_PLUGINS))

    def _start_container(self, image: str, own: bool, port: int) -> None:
        import docker.errors
        LogMessageWaitStrategy = _testcontainers("core.wait_strategies").LogMessageWaitStrategy

        container = _localstack_container_class()(image=image, edge_port=port,
                                                  region_name=self.region)
        container.with_envs(**self.environment(port, own))
        container.ports = {f"{port}/tcp": ("127.0.0.1", port)}
        container.with_name(f"lsh-localstack-{self.run_id}")
        kwargs: dict[str, Any] = {"labels": self.labels(), "init": True}
        if not own:  # that image's own (docker) Lambda executor starts sibling containers
            container.with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
        container.with_kwargs(**kwargs)
        container.waiting_for(LogMessageWaitStrategy(r"^Ready\.$")
                              .with_startup_timeout(self.startup_timeout)
                              .with_poll_interval(0.05))
        self.progress(f"starting LocalStack in Docker from {image} at http://127.0.0.1:{port}")
        self.container = container
        try:
            container.start()
        except docker.errors.ImageNotFound as exc:
            self._fail(f"image {image} is not available locally and could not be pulled ({exc}); "
                       "unset LSH_IMAGE to use this project's locally built image")
        except docker.errors.APIError as exc:
            text = str(exc)
            if "port is already allocated" in text or "address already in use" in text:
                self._remove_container()
                raise _PortTaken() from None
            if "pull" in text or "not found" in text or "manifest" in text:
                self._fail(f"image {image} is not available locally and could not be pulled "
                           f"({exc.explanation or exc}); unset LSH_IMAGE to use this project's "
                           "locally built image")
            self._fail(f"Docker could not start the LocalStack container: "
                       f"{exc.explanation or exc}")
        except TimeoutError:
            self._fail(f"LocalStack did not log 'Ready.' within {self.startup_timeout:.0f} s; "
                       "raise the deadline with LSH_STARTUP_TIMEOUT if this machine is just slow")
        except RuntimeError:  # the container exited before it was ready
            self._fail(f"the LocalStack container exited (exit code {self._exit_code()}) before "
                       "it was ready; see its log below")

    def _exit_code(self) -> str:
        try:
            wrapped = self.container.get_wrapped_container()
            wrapped.reload()
            return str(wrapped.attrs["State"]["ExitCode"])
        except Exception:
            return "unknown"

    def logs(self) -> str:
        """The container's log so far (stdout and stderr)."""
        if self.container is None or self.container._container is None:
            return self._log_tail
        try:
            return self.container._container.logs().decode(errors="replace")
        except Exception:
            return self._log_tail

    def _fail(self, reason: str) -> None:
        tail = "\n".join(self.logs().rstrip().splitlines()[-LOG_TAIL_LINES:])
        self.stop()
        raise LocalStackStartError(reason, tail, "container log")

    def _remove_container(self) -> bool:
        container, self.container = self.container, None
        if container is None or container._container is None:
            return True
        try:
            self._log_tail = container._container.logs(tail=LOG_TAIL_LINES).decode(
                errors="replace")
        except Exception:
            pass
        try:
            container.stop()  # docker rm -f (and its volumes)
            return True
        except Exception as exc:
            if "No such container" in str(exc) or "404" in str(exc):
                return True
            return False

    def stop(self) -> None:
        """Remove the container. Idempotent; safe from atexit."""
        self._stopping = True
        removed = self._remove_container()
        self._stop_reaper(done=removed)
        self.localstack = None
        atexit.unregister(self.stop)

    # ---- the reaper: removes the container if this process dies without stop() ----

    def _start_reaper(self) -> None:
        if self._reaper is not None:
            return
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self._reaper = subprocess.Popen(
            [sys.executable, str(REAPER), self.run_id], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=env, close_fds=True)

    def _stop_reaper(self, done: bool) -> None:
        reaper, self._reaper = self._reaper, None
        if reaper is None:
            return
        try:
            assert reaper.stdin is not None
            if done:
                reaper.stdin.write(b"done")
            reaper.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            reaper.wait(timeout=30 if not done else 5)
        except subprocess.TimeoutExpired:
            pass


class _PortTaken(Exception):
    pass
