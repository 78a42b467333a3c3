"""Cached virtualenvs the harness runs things in, built once and reused.

- LocalStack's own venv: ``localstack-core[runtime]==4.8.1`` with its ~110 pinned runtime
  requirements (``localstack-4.8.1-constraints.txt``) plus this project's LocalStack plugins.
  Kept apart from the user's test environment so those pins never clash with theirs.
- The Lambda functions' venv: what AWS's Python runtime gives a function (``awslambdaric`` and
  ``boto3``), so a function sees what it would see in AWS, not LocalStack's packages.

A venv's folder name carries a hash of everything it was built from, so changing a pin builds a new
one. Builds hold a file lock, so parallel test workers build once. The plugins are copied into a
folder of their own per source version (a few ms, :func:`plugins_path`), on LocalStack's
``PYTHONPATH``, without rebuilding the venv.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness._progress import Progress, print_progress
from harness.config import HarnessConfig
from harness.errors import EnvironmentBuildError

LOCALSTACK_VERSION = "4.8.1"
LOCALSTACK_REQUIREMENT = f"localstack-core[runtime]=={LOCALSTACK_VERSION}"
CONSTRAINTS_FILE = Path(__file__).with_name(f"localstack-{LOCALSTACK_VERSION}-constraints.txt")
PLUGIN_SRC = Path(__file__).with_name("plugin_src")
PLUGIN_PACKAGE = "lsh_localstack_plugins"
FUNCTION_REQUIREMENTS = ("awslambdaric==4.2.2", "boto3==1.40.30")
COMPLETE_MARKER = ".lsh-complete"
_PLUGIN_MARKER = ".lsh-plugins-hash"


def cache_root() -> Path:
    """``$LSH_CACHE_DIR``, else ``$XDG_CACHE_HOME/localstack-e2e-harness``, else ``~/.cache/...``."""
    configured = HarnessConfig.from_env().cache_dir
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "localstack-e2e-harness"


def _base_python() -> str:
    """A Python 3.11 interpreter to build venvs from (LocalStack 4.8.1 needs exactly 3.11)."""
    configured = HarnessConfig.from_env().python
    if configured:
        return configured
    if sys.version_info[:2] == (3, 11):
        return getattr(sys, "_base_executable", None) or sys.executable
    found = shutil.which("python3.11")
    if found:
        return found
    raise EnvironmentBuildError(
        "LocalStack 4.8.1 needs Python 3.11 and none was found: install python3.11 "
        "or point LSH_PYTHON at a Python 3.11 interpreter."
    )


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:12]


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_pip(python: Path, args: list[str], what: str, log: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_USER")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    with open(log, "ab") as out:
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--no-input", *args],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise EnvironmentBuildError(
            f"pip could not install {what} (exit {result.returncode}); is PyPI reachable? "
            f"Full log: {log}\n{tail}"
        )


def _ensure_writable(folder: Path) -> None:
    """The cache folder can be written to, or one line naming it and the fix."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise EnvironmentBuildError(
            f"the cache folder {folder} is not writable ({exc.strerror or exc}): point "
            "LSH_CACHE_DIR at a folder you can write to") from None


def _build_venv(target: Path, pip_args: list[str], what: str, progress: Progress) -> Path:
    python = target / "bin" / "python"
    if (target / COMPLETE_MARKER).is_file() and python.exists():
        return target
    _ensure_writable(target.parent)
    with _locked(target.with_name(target.name + ".lock")):
        if (target / COMPLETE_MARKER).is_file() and python.exists():
            return target  # another worker built it while we waited
        shutil.rmtree(target, ignore_errors=True)  # a half-built venv from an interrupted build
        started = time.monotonic()
        progress(f"building {what}, once, in {target} ...")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([_base_python(), "-m", "venv", str(target)], check=True)
        _run_pip(python, pip_args, what, target / "pip-install.log")
        (target / COMPLETE_MARKER).write_text(" ".join(pip_args))
        progress(f"built {what} in {time.monotonic() - started:.0f} s")
    return target


def localstack_venv_path() -> Path:
    key = _digest(LOCALSTACK_REQUIREMENT.encode(), CONSTRAINTS_FILE.read_bytes(),
                  sys.version.encode())
    return cache_root() / f"localstack-{LOCALSTACK_VERSION}-{key}"


def function_venv_path() -> Path:
    key = _digest(*(r.encode() for r in FUNCTION_REQUIREMENTS), sys.version.encode())
    return cache_root() / f"lambda-python-{key}"


def localstack_venv(progress: Progress = print_progress) -> Path:
    """The venv that runs LocalStack, with this project's plugins installed and current."""
    target = localstack_venv_path()
    _build_venv(target, ["-c", str(CONSTRAINTS_FILE), LOCALSTACK_REQUIREMENT],
                f"LocalStack {LOCALSTACK_VERSION} venv (~40 s)", progress)
    plugins_path(target)
    return target


def function_venv(progress: Progress = print_progress) -> Path:
    """The venv whose Python runs Lambda functions (like AWS's python3.11 runtime)."""
    return _build_venv(function_venv_path(), list(FUNCTION_REQUIREMENTS),
                       "Lambda function venv (~10 s)", progress)


def function_node_sdk(progress: Progress = print_progress) -> Path:
    """The cached ``node_modules`` with the AWS SDK for JavaScript v3 that Node.js functions find
    (built by the Lambda executor on the first Node function; this builds it ahead, e.g. in CI)."""
    import importlib.util

    source = PLUGIN_SRC / PLUGIN_PACKAGE / "lambda_executor" / "node_sdk.py"
    spec = importlib.util.spec_from_file_location("lsh_node_sdk", source)
    assert spec is not None and spec.loader is not None
    node_sdk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(node_sdk)
    try:
        return node_sdk.ensure_node_sdk(cache_root(), progress)
    except node_sdk.NodeSdkError as e:
        raise EnvironmentBuildError(str(e)) from e


def plux_cache_dir(venv: Path) -> Path:
    """XDG cache folder given to LocalStack, so plux's entry-point cache belongs to this venv."""
    return venv / "xdg-cache"


def site_packages(venv: Path) -> Path:
    found = sorted((venv / "lib").glob("python3.*/site-packages"))
    if not found:
        raise EnvironmentBuildError(f"{venv} has no site-packages; delete it to rebuild it.")
    return found[0]


def plugins_digest() -> str:
    """A hash of the plugin source (package and entry points): changes whenever any file does."""
    return _tree_digest(PLUGIN_SRC)


def write_plugins(site: Path) -> None:
    """Copy the plugin package and a dist-info registering its entry points into ``site``.

    ``site`` is a site-packages folder: a venv's, or the one of the container image
    (:mod:`harness.localstack.containers.image`).
    """
    shutil.rmtree(site / PLUGIN_PACKAGE, ignore_errors=True)
    shutil.copytree(PLUGIN_SRC / PLUGIN_PACKAGE, site / PLUGIN_PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__"))
    dist_info = site / f"{PLUGIN_PACKAGE}-0.0.0.dist-info"
    shutil.rmtree(dist_info, ignore_errors=True)
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PLUGIN_PACKAGE}\nVersion: 0.0.0\n")
    entry_points = "\n".join(
        p.read_text().strip() for p in sorted((PLUGIN_SRC / "entry_points.d").glob("*.txt")))
    (dist_info / "entry_points.txt").write_text(entry_points + "\n")
    (dist_info / "INSTALLER").write_text("localstack-e2e-harness\n")
    (dist_info / "RECORD").write_text("")


#: plugin folders of other source versions are removed once unused for this long
_OLD_PLUGINS_SECONDS = 7 * 24 * 3600


def plugins_path(venv: Path) -> Path:
    """The folder on LocalStack's ``PYTHONPATH`` that holds this plugin source's package and the
    dist-info registering its entry points: one folder per source version (its digest), written
    once and renamed into place whole, so LocalStacks of different versions (two checkouts, two
    projects with other harness versions) that share the venv never see each other's files.
    plux's entry-point cache is keyed by ``sys.path``, so they do not share that either.

    Written by hand rather than with pip: a pure-Python folder plus a dist-info, milliseconds,
    offline."""
    digest = plugins_digest()
    root = venv / "lsh-plugins"
    target = root / digest
    if (target / PLUGIN_PACKAGE).is_dir():
        os.utime(target)  # in use: not old
        return target
    _ensure_writable(venv)
    root.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=root))
    try:
        write_plugins(staging)
        os.rename(staging, target)
    except OSError:
        if not (target / PLUGIN_PACKAGE).is_dir():  # else another process renamed its copy first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_old_plugins(venv, keep=target)
    return target


def _remove_old_plugins(venv: Path, keep: Path) -> None:
    """Drop the copy that earlier harness versions put into site-packages (its entry points
    would be loaded next to ours), and the folders of versions unused for a week."""
    with _locked(venv / ".plugins.lock"):
        site = site_packages(venv)
        shutil.rmtree(site / PLUGIN_PACKAGE, ignore_errors=True)
        shutil.rmtree(site / f"{PLUGIN_PACKAGE}-0.0.0.dist-info", ignore_errors=True)
        (venv / _PLUGIN_MARKER).unlink(missing_ok=True)
        now = time.time()
        for old in keep.parent.iterdir():
            try:
                if old != keep and now - old.stat().st_mtime > _OLD_PLUGINS_SECONDS:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
