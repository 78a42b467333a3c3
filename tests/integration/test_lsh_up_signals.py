"""``lsh up`` (issue 11, items 4-7): Ctrl-C / SIGTERM at any point stops it within 2 s with a
non-zero code and leaves nothing; LocalStack's death ends it with code 2 and the reason; it
honours LSH_PORT; a bad setting is one line, exit 2."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import up_state
from harness.localstack import processes

REPO = Path(__file__).resolve().parents[2]
LSH = [sys.executable, "-m", "harness.cli"]
APP = REPO / "tests" / "integration" / "cdk_apps" / "minimal"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Up:
    """A running ``lsh up``: its output lines as they come, its run id and log folder."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [*LSH, "up", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, "LSH_PORT": str(self.port), **(env or {})})
        self.lines: list[str] = []
        self.run_id = self.log_dir = None

    def read_until(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            self.lines.append(line)
            found = re.search(r"log: (\S+-([0-9a-f]{12}))/localstack\.log", line)
            if found:
                self.log_dir, self.run_id = Path(found.group(1)), found.group(2)
            if text in line:
                return
            assert time.monotonic() < deadline, f"no {text!r} in time: {''.join(self.lines)}"
        raise AssertionError(f"lsh up ended before {text!r}: {''.join(self.lines)}")

    def stop_with(self, sig: int) -> tuple[int, float, str]:
        rest: list[str] = []  # read in a thread: a leftover child holding the pipe must not hang us
        reader = threading.Thread(target=lambda: rest.append(self.proc.stdout.read()),
                                  daemon=True)
        reader.start()
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        took = time.monotonic() - started
        reader.join(timeout=5)
        assert not reader.is_alive(), "a process left behind still holds lsh up's output"
        return code, took, "".join(self.lines) + "".join(rest)

    def leaves_nothing(self) -> None:
        assert self.run_id, "".join(self.lines)
        assert processes.pids_of_run(self.run_id) == [], "processes of the run are left"
        assert processes.children(self.proc.pid) == []
        left = [p for p in Path("/tmp").glob(f"lsh-{self.run_id}-*")]
        assert left == [], f"run folder left: {left}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


@pytest.fixture
def up(tmp_path):
    # a cache folder of their own: no other pytest session on the machine finds these ups (and
    # reuses a LocalStack these tests are about to stop or kill)
    cache = up_state.private_cache(tmp_path / "cache")
    started: list[Up] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Up:
        started.append(Up(*args, env={"LSH_CACHE_DIR": str(cache), **(env or {})}))
        return started[-1]

    yield start
    for one in started:
        one.kill()
        if one.log_dir:
            import shutil
            shutil.rmtree(one.log_dir, ignore_errors=True)


@pytest.mark.parametrize("sig, when", [(signal.SIGINT, "starting LocalStack"),
                                       (signal.SIGTERM, "LocalStack ready")],
                         ids=["sigint-while-starting", "sigterm-while-deploying"])
def test_a_signal_before_it_serves_stops_it_within_2_s(up, sig, when):
    run = up("--app", str(APP))
    run.read_until(when)
    code, took, output = run.stop_with(sig)
    assert code == 128 + sig, output
    assert took < 2.0, f"took {took:.1f} s to stop"
    assert f"interrupted ({signal.Signals(sig).name})" in output
    assert "Traceback" not in output
    run.leaves_nothing()
    assert (run.log_dir / "localstack.log").is_file(), "an interrupted start keeps its log"
    assert str(run.log_dir) in output, "and names it"


def test_sigterm_while_serving_stops_within_2_s_and_leaves_nothing(up, tmp_path):
    run = up("--no-deploy")
    run.read_until("Press Ctrl-C to stop")
    assert f"http://127.0.0.1:{run.port}" in "".join(run.lines), "LSH_PORT is honoured"
    state = json.loads((tmp_path / "cache" / "up.json").read_text())  # in its own cache folder
    assert state["pid"] == run.proc.pid and state["endpoint_url"].endswith(f":{run.port}")
    wanted = up_state.launch_signature("embedded")  # what a pytest session compares before reuse
    assert (state["launch"]["backend"], state["launch"]["settings"]) == (
        wanted["backend"], wanted["settings"])
    code, took, output = run.stop_with(signal.SIGTERM)
    assert code == 128 + signal.SIGTERM and took < 2.0, (code, took, output)
    run.leaves_nothing()
    assert not (tmp_path / "cache" / "up.json").exists()
    assert not run.log_dir.exists(), "a clean stop leaves no log"


def test_localstack_dying_ends_lsh_up_with_code_2_and_the_reason(up):
    run = up("--no-deploy")
    run.read_until("Press Ctrl-C to stop")
    localstack_pid = [p for p in processes.pids_of_run(run.run_id)
                      if "lsh_localstack_plugins.run" in processes.describe(p)][0]
    os.kill(localstack_pid, signal.SIGKILL)
    output = "".join(run.lines) + run.proc.stdout.read()
    assert run.proc.wait(timeout=10) == 2, output
    assert "lsh: error: LocalStack exited (signal SIGKILL) at " in output
    assert f"its log is kept at {run.log_dir}/localstack.log" in output
    assert "Traceback" not in output
    run.leaves_nothing()


@pytest.mark.parametrize("env, line", [
    ({"LSH_PORT": "abc"}, "lsh: error: LSH_PORT='abc' is not a port number"),
    ({"LSH_STARTUP_TIMEOUT": "abc"}, "lsh: error: LSH_STARTUP_TIMEOUT='abc' is not a number"),
    ({"LSH_BACKEND": "dockr"}, "lsh: error: LSH_BACKEND='dockr' is not a backend"),
])
def test_a_bad_setting_is_one_line_and_exit_2(env, line):
    result = subprocess.run([*LSH, "up", "--no-deploy"], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env={**os.environ, **env})
    assert result.returncode == 2
    assert result.stderr.strip().startswith(line) and len(result.stderr.strip().splitlines()) == 1


def test_sigterm_while_a_venv_is_built_stops_within_2_s_and_kills_pip(tmp_path):
    """A cold cache: `lsh up` builds LocalStack's venv (~40 s of pip); SIGTERM stops it at once."""
    proc = subprocess.Popen([*LSH, "up", "--no-deploy"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "LSH_CACHE_DIR": str(tmp_path),
                                 "LSH_PORT": str(_free_port())})
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "building LocalStack" in line:
                break
        else:
            raise AssertionError("".join(lines))
        pip_seen = False
        deadline = time.monotonic() + 30
        while not pip_seen and time.monotonic() < deadline:  # until pip is really running
            pip_seen = any("pip" in processes.describe(p) for p in processes.children(proc.pid))
            time.sleep(0.05)
        assert pip_seen, "pip did not start"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        output = "".join(lines) + proc.stdout.read()
        code = proc.wait(timeout=30)
        took = time.monotonic() - started
        assert code == 128 + signal.SIGTERM and took < 2.0, (code, took, output)
        assert "Traceback" not in output
        left = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                and str(tmp_path) in processes.describe(int(p.name))]
        assert left == [], f"left running: {[processes.describe(int(p.name)) for p in left]}"
    finally:
        if proc.poll() is None:
            proc.kill()
