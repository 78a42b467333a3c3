"""What the project's own suite cleans up after itself.

Tests that interrupt, kill or fail a LocalStack on purpose (and pytester sessions with a failing
test) make the harness keep that run's log folder, as it should for a user. A test that passes
removes the kept log folders its own runs left, once those runs have ended, so a green suite
leaves nothing behind; a failing test keeps them for reading."""

from __future__ import annotations

import shutil

import pytest

from harness.localstack import leftovers

_FAILED = pytest.StashKey[bool]()


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
