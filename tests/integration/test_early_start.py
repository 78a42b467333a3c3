"""A session whose conftest fixtures use LocalStack starts it at session start, while pytest
collects (harness.pytest_plugin's early start), warms the apps' usual services when those
fixtures deploy, and hands that one LocalStack to the tests; a session without such fixtures
starts none."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

#: the inner session's conftest: an app-like fixture on `localstack`, and a hook that records,
#: when collection is done, whether a LocalStack is already starting
CONFTEST = textwrap.dedent('''
    import json, os
    import pytest
    from harness import pytest_plugin

    def pytest_collection_finish(session):
        early = session.config.stash.get(pytest_plugin.EARLY_START, None)
        with open(os.environ["EARLY_FILE"], "w") as f:
            f.write("starting" if early is not None else "none")

    @pytest.fixture(scope="session")
    def app_client(localstack, deploy):
        return localstack.client("sqs")
''')
USES_IT = textwrap.dedent('''
    import json, os, urllib.request

    def test_uses_the_early_localstack(app_client, localstack):
        assert app_client.list_queues().get("QueueUrls", []) == []
        with urllib.request.urlopen(localstack.endpoint_url + "/_lsh/warm-up?timeout=120") as r:
            state = json.load(r)
        with open(os.environ["WARM_FILE"], "w") as f:
            json.dump(state, f)
''')
DOES_NOT = textwrap.dedent('''
    def test_needs_nothing():
        assert 1 + 1 == 2
''')


def _run(tmp_path, conftest: str, test: str, **env: str) -> tuple[subprocess.CompletedProcess, str]:
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_inner.py").write_text(test)
    early_file = tmp_path / "early"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, EARLY_FILE=str(early_file), WARM_FILE=str(tmp_path / "warm"),
                 LSH_REUSE_UP="0", **env))
    return result, early_file.read_text() if early_file.exists() else "hook did not run"


def test_a_session_with_localstack_fixtures_starts_it_before_collection_ends(tmp_path):
    import json

    result, early = _run(tmp_path, CONFTEST, USES_IT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert early == "starting"
    state = json.loads((tmp_path / "warm").read_text())
    assert state["done"] and not state["failed"], state
    assert {"cloudformation", "s3", "lambda", "sqs"} <= set(state["loaded"]), state


def test_a_session_that_deploys_nothing_starts_it_early_but_warms_nothing(tmp_path):
    import json

    conftest = CONFTEST.replace("def app_client(localstack, deploy):", "def app_client(localstack):")
    result, early = _run(tmp_path, conftest, USES_IT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert early == "starting"
    state = json.loads((tmp_path / "warm").read_text())
    assert state["done"] and state["services"] == [] and state["loaded"] == {}, state


def test_a_session_without_them_starts_none(tmp_path):
    conftest = CONFTEST.replace("def app_client(localstack, deploy):", "def app_client():").replace(
        'return localstack.client("sqs")', "return None")
    result, early = _run(tmp_path, conftest, DOES_NOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert early == "none"
    assert "starting LocalStack" not in result.stderr


def test_lsh_early_start_0_starts_it_at_the_first_test_instead(tmp_path):
    result, early = _run(tmp_path, CONFTEST, USES_IT, LSH_EARLY_START="0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert early == "none"
