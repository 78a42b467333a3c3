"""A pytest session reuses the LocalStack of a running ``lsh up`` (its ``up.json`` in the cache
folder) by default, when that up runs what the session would start; its header says which
LocalStack it used (and why not the up), and ``localstack.reused_up`` is the up's pid or None."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from harness import up_state
from harness.pytest_plugin import up_to_reuse

pytestmark = pytest.mark.integration


def write_up_json(cache, endpoint: str, pid: int, launch: dict | None) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    state = {"endpoint_url": endpoint, "region": "us-east-1", "app": None, "stacks": {},
             "pid": pid}
    if launch is not None:
        state["launch"] = launch
    (cache / "up.json").write_text(json.dumps(state))


def run_session(folder, cache, test_source: str, *args: str, **env: str):
    """A pytest session in ``folder`` (no conftest of this suite) with ``cache`` as its cache."""
    (folder / "test_one.py").write_text(textwrap.dedent(test_source))
    environ = dict(os.environ)
    for name in ("LSH_BACKEND", "LSH_ENDPOINT", "LSH_PORT", "AWS_ENDPOINT_URL", "LSH_REUSE_UP"):
        environ.pop(name, None)  # the session's defaults, whatever this session was run with
    environ.update({"LSH_CACHE_DIR": str(cache), **env})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",  # header shown
                           str(folder / "test_one.py"), *args], cwd=folder, env=environ,
                          capture_output=True, text=True, timeout=300)


def test_by_default_a_session_reuses_a_matching_lsh_up_and_says_so(localstack, tmp_path):
    # the session's LocalStack stands in for `lsh up`'s; this process stands in for its pid
    cache = tmp_path / "cache"  # holds no venv: a LocalStack start would have to build one
    write_up_json(cache, localstack.endpoint_url, os.getpid(),
                  up_state.launch_signature("embedded"))
    result = run_session(tmp_path, cache, f'''
        def test_uses_it(localstack):
            assert localstack.endpoint_url == {localstack.endpoint_url!r}
            assert localstack.backend == "external"
            assert localstack.reused_up == {os.getpid()}
            assert localstack.client("sqs").create_queue(QueueName="lsh-reuse-up")["QueueUrl"]
    ''')
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"lsh: reusing the LocalStack of the running `lsh up` (pid {os.getpid()}) at "
            f"{localstack.endpoint_url}: no start") in result.stdout
    assert "starting LocalStack" not in result.stderr
    assert not any(cache.glob("localstack-*"))  # nothing was built or started
    localstack.client("sqs").get_queue_url(QueueName="lsh-reuse-up")  # made in this LocalStack


def test_xdist_workers_share_the_reused_up(localstack, tmp_path):
    cache = tmp_path / "cache"
    write_up_json(cache, localstack.endpoint_url, os.getpid(),
                  up_state.launch_signature("embedded"))
    result = run_session(tmp_path, cache, f'''
        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_uses_it(localstack, n):
            assert localstack.endpoint_url == {localstack.endpoint_url!r}
            assert localstack.reused_up == {os.getpid()}
    ''', "-n", "2")
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr
    assert "lsh: reusing the LocalStack of the running `lsh up`" in result.stdout
    assert "starting LocalStack" not in result.stderr


def test_an_up_running_other_settings_is_not_reused_the_header_says_why(localstack, tmp_path):
    cache = up_state.private_cache(tmp_path / "cache")  # a fresh start finds the venvs here
    launch = up_state.launch_signature("embedded")
    launch["settings"]["LSH_SOME_PLUGIN_SETTING"] = "on"  # the up runs with it; a session would not
    write_up_json(cache, localstack.endpoint_url, os.getpid(), launch)
    result = run_session(tmp_path, cache, f'''
        def test_starts_its_own(localstack):
            assert localstack.endpoint_url != {localstack.endpoint_url!r}
            assert localstack.backend == "embedded" and localstack.reused_up is None
    ''')
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"lsh: starting a fresh LocalStack, not reusing the running `lsh up` (pid "
            f"{os.getpid()}) at {localstack.endpoint_url}: its LSH_SOME_PLUGIN_SETTING='on' "
            "differs from this session's LSH_SOME_PLUGIN_SETTING=(unset)") in result.stdout


@pytest.mark.parametrize("args, env, why", [
    (["--lsh-fresh"], {}, "--lsh-fresh"),
    ([], {"LSH_REUSE_UP": "0"}, "LSH_REUSE_UP=0"),
    ([], {"LSH_PORT": "4599"}, "--lsh-port / LSH_PORT 4599 asks for a LocalStack of its own"),
], ids=["lsh-fresh", "LSH_REUSE_UP=0", "fixed-port"])
def test_asked_for_a_fresh_one_a_session_does_not_reuse_the_up(localstack, tmp_path, args, env,
                                                               why):
    cache = tmp_path / "cache"
    write_up_json(cache, localstack.endpoint_url, os.getpid(),
                  up_state.launch_signature("embedded"))
    result = run_session(tmp_path, cache, "def test_nothing():\n    pass\n", *args, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"lsh: starting a fresh LocalStack, not reusing the running `lsh up` (pid "
            f"{os.getpid()}) at {localstack.endpoint_url}: {why}\n") in result.stdout


def test_the_handle_says_whether_this_session_reused_an_up(localstack, pytestconfig):
    up = up_to_reuse(pytestconfig)
    assert localstack.reused_up == (up["pid"] if up else None)
    assert (localstack.backend == "external") == (up is not None)


def test_an_up_json_whose_process_is_gone_is_not_reused(localstack, tmp_path, monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_up_json(tmp_path, localstack.endpoint_url, gone.pid, None)
    monkeypatch.setenv("LSH_CACHE_DIR", str(tmp_path))
    assert up_state.running() is None
    write_up_json(tmp_path, localstack.endpoint_url, os.getpid(), None)
    assert up_state.running()["endpoint_url"] == localstack.endpoint_url
