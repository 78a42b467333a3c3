"""What the project's own suite cleans up after itself.

Tests that interrupt, kill or fail a LocalStack on purpose (and pytester sessions with a failing
test) make the harness keep that run's log folder, as it should for a user. A test that passes
removes the kept log folders its own runs left, once those runs have ended, so a green suite
leaves nothing behind; a failing test keeps them for reading."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.localstack import leftovers

_FAILED = pytest.StashKey[bool]()
_E2E = Path(__file__).resolve().parent / "e2e"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A session of this suite reuses a running ``lsh up`` only when it runs e2e tests alone (the
    developer loop: ``pytest tests/e2e/<app> -k ...``). Any other (``make test``, integration
    tests that stop, kill or re-configure LocalStack, and the sessions they start) starts its own
    LocalStack, unless LSH_REUSE_UP is set."""
    if "LSH_REUSE_UP" in os.environ:
        return
    chosen = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
              for arg in config.args]
    if not chosen or not all(path == _E2E or _E2E in path.parents for path in chosen):
        os.environ["LSH_REUSE_UP"] = "0"


def _log_dirs() -> set:
    return set(leftovers.temp_root().glob(f"{leftovers.LOG_DIR_PREFIX}*"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = (yield).get_result()
    if report.failed:
        item.stash[_FAILED] = True



@pytest.fixture(autouse=True)
def _no_kept_logs_from_passing_tests(request: pytest.FixtureRequest):
    before = _log_dirs()
    yield
    if request.node.stash.get(_FAILED, False):
        return
    root = leftovers.temp_root()
    for path in _log_dirs() - before:
        if not leftovers.run_alive(root, path.name.rsplit("-", 1)[-1]):
            shutil.rmtree(path, ignore_errors=True)
