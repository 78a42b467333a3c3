"""Is Docker there? A clear error (never a raw traceback) when it is missing or not running."""

from __future__ import annotations

import os
import shutil
import subprocess

from harness.errors import HarnessError
from harness.extras import install_hint

HOW_TO_START = (
    "Install it with `apt-get install -y docker.io` (Debian/Ubuntu) if needed, then start the "
    "daemon, e.g. `dockerd > /tmp/dockerd.log 2>&1 &` as root (or `.ci/docker.sh`, which does "
    "both), and check it with `docker info`.")


class DockerUnavailable(HarnessError):
    """Docker is not installed, or its daemon cannot be reached."""


def daemon_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_cli() -> str:
    """Path of the ``docker`` command, or :class:`DockerUnavailable`."""
    found = shutil.which("docker")
    if not found:
        raise DockerUnavailable(f"Docker is not installed (no `docker` command on PATH). "
                                f"{HOW_TO_START}")
    return found


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no answer"


def check_cli() -> str:
    """The Docker server version, via the ``docker`` command; :class:`DockerUnavailable` if none."""
    cli = docker_cli()
    try:
        result = subprocess.run([cli, "version", "--format", "{{.Server.Version}}"],
                                capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise DockerUnavailable(f"the Docker daemon at {daemon_address()} does not answer "
                                f"(20 s). {HOW_TO_START}") from None
    version = result.stdout.strip()
    if result.returncode != 0 or not version:
        raise DockerUnavailable(
            f"the Docker daemon is not running or not reachable at {daemon_address()} "
            f"({_first_line(result.stderr)}). {HOW_TO_START}")
    return version


def docker_client():
    """A ``docker.DockerClient`` that answers ``ping``; :class:`DockerUnavailable` otherwise."""
    try:
        import docker
    except ImportError:
        raise DockerUnavailable(f"Docker needs the Python package `docker`, which is not "
                                f"installed: {install_hint('containers')}") from None
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, FileNotFoundError...
        raise DockerUnavailable(
            f"the Docker daemon is not running or not reachable at {daemon_address()} "
            f"({_first_line(str(exc)) or type(exc).__name__}). {HOW_TO_START}") from None
    return client
