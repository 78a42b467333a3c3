"""Issue 11: the embedded LocalStack is reachable on loopback only, gets none of the user's
secrets, its death is reported at once with its kept log, and dead runs leave nothing behind."""

from __future__ import annotations

import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.errors import LocalStackDied
from harness.localstack import EmbeddedBackend, leftovers, liveness, processes
from harness.waits import eventually
from tests.integration.conftest import make_zip, unique

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = ("127.0.0.1", "::1")


def machine_addresses() -> list[str]:
    """Every address of this machine's interfaces that is not loopback (IPv4 and IPv6)."""
    if not shutil.which("ip"):
        pytest.fail("this test lists the machine's addresses with `ip` (iproute2): install it")
    out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True,
                         check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        family, cidr = fields[2], fields[3]
        address = cidr.split("/")[0]
        if family in ("inet", "inet6") and address not in LOOPBACK:
            if address.startswith("fe80:"):
                address = f"{address}%{fields[1]}"  # link-local needs its interface
            found.append(address)
    return found


def _hex_to_address(hex_address: str) -> str:
    if len(hex_address) == 8:
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hex_address)[::-1])
    raw = bytes.fromhex(hex_address)
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))


def listening_sockets(pids: list[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every listening TCP socket the processes ``pids`` hold."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.append((_hex_to_address(address), int(port, 16), inodes[inode]))
    return found


def refused(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(socket.getaddrinfo(address, port, family)[0][4])
        except (ConnectionRefusedError, OSError):
            return True
    return False


def test_every_port_of_the_run_listens_on_loopback_only(localstack, create_function,
                                                         invoke_function):
    """LocalStack's gateway and each function's runtime API: bound to loopback, refused from
    every other address of the machine."""
    name = create_function("def handler(event, context):\n    return 'up'\n")
    assert invoke_function(name).payload == "up"  # an execution environment is running now
    pids = processes.pids_of_run(localstack.details["run_id"])
    sockets = listening_sockets(pids)
    gateway_port = int(localstack.endpoint_url.rsplit(":", 1)[1])
    ports = {port for _, port, _ in sockets}
    assert gateway_port in ports and len(ports) >= 2, sockets  # gateway + a runtime API at least
    assert [s for s in sockets if s[0] not in LOOPBACK] == [], "listening beyond loopback"
    others = machine_addresses()
    assert others, "this machine has no non-loopback address to try"
    reachable = [(a, p) for a in others for p in sorted(ports) if not refused(a, p)]
    assert reachable == [], f"reachable from other addresses: {reachable}"


SENTINEL = "LshSentinel7f3e"
SECRET_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "AWS_SECURITY_TOKEN", "LOCALSTACK_AUTH_TOKEN", "GITHUB_TOKEN")
ENV_HANDLER = """
import os

def handler(event, context):
    return dict(os.environ)
"""


@pytest.fixture
def sentinel_environment(tmp_path, monkeypatch):
    """The user's shell full of credentials, a profile and AWS files, each holding SENTINEL."""
    for name in SECRET_VARS:
        monkeypatch.setenv(name, f"{SENTINEL}-{name}")
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(f"[default]\nregion = eu-west-3\naws_access_key_id = {SENTINEL}-cfg\n")
    credentials.write_text(f"[default]\naws_access_key_id = {SENTINEL}-cred\n"
                           f"aws_secret_access_key = {SENTINEL}-cred-secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "nosuch")  # would fail every call with ProfileNotFound
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "nosuch")


def _files_holding(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                hits.append(str(path))
        except OSError:
            continue
    return hits


def test_no_secret_of_the_user_reaches_localstack_or_functions(sentinel_environment):
    backend = EmbeddedBackend(progress=lambda _: None)
    try:
        localstack = backend.start()
        lam = localstack.client("lambda")  # works despite AWS_PROFILE=nosuch
        lam.create_function(FunctionName="env-dump", Runtime="python3.11", Handler="index.handler",
                            Role="arn:aws:iam::000000000000:role/r",
                            Code={"ZipFile": make_zip({"index.py": ENV_HANDLER})})
        lam.get_waiter("function_active_v2").wait(FunctionName="env-dump",
                                                  WaiterConfig={"Delay": 0.2})
        function_env = json.loads(lam.invoke(FunctionName="env-dump")["Payload"].read())
        assert SENTINEL not in json.dumps(function_env), function_env
        assert "AWS_PROFILE" not in function_env and "AWS_CONFIG_FILE" not in function_env
        pids = processes.pids_of_run(backend.run_id)
        assert len(pids) >= 2, "LocalStack and the function's environment should be running"
        for pid in pids:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert SENTINEL.encode() not in environ, processes.describe(pid)
            assert b"AWS_PROFILE=" not in environ, processes.describe(pid)
        leaked = (_files_holding(backend.run_dir, SENTINEL.encode())
                  + _files_holding(backend.log_dir, SENTINEL.encode()))
        assert leaked == [], f"files of the run holding a secret: {leaked}"
    finally:
        backend.stop()


def test_sigkill_of_localstack_fails_the_next_call_and_a_waiting_check_at_once():
    backend = EmbeddedBackend(progress=lambda _: None)
    try:
        localstack = backend.start()
        sqs = localstack.client("sqs")
        url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        with liveness.watching(localstack):
            def nothing_yet():
                sqs_checks = localstack.client("sqs")
                assert sqs_checks.receive_message(QueueUrl=url).get("Messages")

            killer = subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -KILL {backend.process.pid}"])
            started = time.monotonic()
            with pytest.raises(LocalStackDied) as died:
                eventually(nothing_yet, timeout=30)
            waited = time.monotonic() - started
            killer.wait()
        assert waited < 3.5, f"the waiting check took {waited:.1f} s to notice"
        message = str(died.value)
        assert "LocalStack exited (signal SIGKILL) at " in message
        log_path = Path(died.value.log_path)
        assert str(log_path) in message and log_path.is_file()
        started = time.monotonic()
        with pytest.raises(LocalStackDied):
            sqs.list_queues()
        assert time.monotonic() - started < 1
        with pytest.raises(LocalStackDied):
            localstack.resource("s3").create_bucket(Bucket=unique("b"))
    finally:
        backend.stop()
    assert not backend.run_dir.exists(), "the run folder is removed"
    assert backend.kept_logs == log_path.parent and log_path.is_file(), "the log is kept"
    import shutil
    shutil.rmtree(log_path.parent)


def test_clean_run_leaves_nothing():
    before = {p.name for p in leftovers.temp_root().iterdir() if p.name.startswith("lsh-")}
    backend = EmbeddedBackend(progress=lambda _: None)
    with backend as localstack:
        localstack.client("sqs").list_queues()
        run_dir, log_dir = backend.run_dir, backend.log_dir
        assert run_dir.is_dir() and log_dir.is_dir()
    assert not run_dir.exists() and not log_dir.exists()
    after = {p.name for p in leftovers.temp_root().iterdir() if p.name.startswith("lsh-")}
    assert not {n for n in after - before if backend.run_id in n}


KILLED_OWNER = textwrap.dedent('''
    import time
    from harness.localstack import EmbeddedBackend
    backend = EmbeddedBackend(progress=lambda _: None)
    backend.start()
    print(backend.run_id, backend.run_dir, backend.log_dir, flush=True)
    time.sleep(600)
''')


def test_sigkill_of_the_owner_leaves_no_process_and_the_next_start_sweeps_its_folder():
    owner = subprocess.Popen([sys.executable, "-c", KILLED_OWNER], stdout=subprocess.PIPE,
                             text=True, cwd=REPO)
    try:
        run_id, run_dir, log_dir = owner.stdout.readline().split()
        owner.kill()
        owner.wait(timeout=10)
        eventually(lambda: processes.pids_of_run(run_id) == [], timeout=15,
                   description="LocalStack follows its SIGKILLed owner")
        assert Path(run_dir).is_dir(), "SIGKILL gives no chance to clean up"
        removed = leftovers.sweep()
        assert Path(run_dir) in removed and not Path(run_dir).exists()
        assert Path(log_dir, "localstack.log").is_file(), "the interrupted run's log is kept"
    finally:
        if owner.poll() is None:
            owner.kill()
    import shutil
    shutil.rmtree(log_dir, ignore_errors=True)


KEPT_LOGS_SESSION = textwrap.dedent('''
    import io, os, zipfile

    from harness import eventually

    def test_a_function_logs_then_the_session_fails(localstack):
        lam = localstack.client("lambda")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("index.py", "def handler(event, context):\\n    print('marker-for-kept-logs')\\n    return 1\\n")
        lam.create_function(FunctionName="kept", Runtime="python3.11", Handler="index.handler",
                            Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": buf.getvalue()})
        lam.get_waiter("function_active_v2").wait(FunctionName="kept", WaiterConfig={"Delay": 0.2})
        lam.invoke(FunctionName="kept")
        logs = localstack.client("logs")  # shipped asynchronously: wait until it is there
        def logged():
            groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/kept")["logGroups"]
            return groups and logs.filter_log_events(logGroupName="/aws/lambda/kept")["events"]

        eventually(logged, timeout=20)
        with open(os.environ["LOG_DIR_FILE"], "w") as f:
            f.write(localstack.details["log_dir"])
        assert os.environ.get("FAIL") != "1", "this test fails on purpose"
''')


@pytest.mark.parametrize("fail", [True, False], ids=["failed-session", "passing-session"])
def test_a_failed_session_keeps_and_names_its_logs(tmp_path, fail):
    (tmp_path / "test_inner.py").write_text(KEPT_LOGS_SESSION)
    log_dir_file = tmp_path / "log_dir"
    env = dict(os.environ, LOG_DIR_FILE=str(log_dir_file), FAIL="1" if fail else "0")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tmp_path / "test_inner.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    log_dir = Path(log_dir_file.read_text())
    try:
        if not fail:
            assert result.returncode == 0, result.stdout + result.stderr
            assert not log_dir.exists(), "a clean session leaves no log"
            assert "logs kept" not in result.stdout
            return
        assert result.returncode == 1, result.stdout + result.stderr
        assert "localstack-e2e-harness: logs kept" in result.stdout
        assert f"1 failed test(s): LocalStack's log and the functions' logs are kept in {log_dir}" \
            in result.stdout
        assert (log_dir / "localstack.log").stat().st_size > 0
        function_logs = list((log_dir / "functions").glob("*kept*.log"))
        assert function_logs and "marker-for-kept-logs" in function_logs[0].read_text()
    finally:
        import shutil
        shutil.rmtree(log_dir, ignore_errors=True)


SLOW_SESSION = textwrap.dedent('''
    import os, time

    def test_waits_to_be_terminated(localstack):
        localstack.client("sqs").list_queues()
        with open(os.environ["DETAILS_FILE"], "w") as f:
            f.write(localstack.details["run_id"] + " " + localstack.details["run_dir"] + " "
                    + localstack.details["log_dir"])
        time.sleep(120)  # stands for a long test; the session is SIGTERMed meanwhile
''')


def test_sigterm_of_pytest_stops_localstack_removes_the_run_folder_and_keeps_the_log(tmp_path):
    (tmp_path / "test_inner.py").write_text(SLOW_SESSION)
    details = tmp_path / "details"
    session = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                str(tmp_path / "test_inner.py")], cwd=tmp_path,
                               env=dict(os.environ, DETAILS_FILE=str(details)),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        eventually(details.exists, timeout=120, description="the inner session is running")
        run_id, run_dir, log_dir = details.read_text().split()
        session.send_signal(signal.SIGTERM)
        output, _ = session.communicate(timeout=60)
        assert session.returncode == 2, output  # interrupted
        assert processes.pids_of_run(run_id) == []
        assert not Path(run_dir).exists(), "the run folder is removed"
        assert (Path(log_dir) / "localstack.log").is_file(), "the interrupted run's log is kept"
        assert f"interrupted: LocalStack's log and the functions' logs are kept in {log_dir}" \
            in output
    finally:
        if session.poll() is None:
            session.kill()
        if details.exists():
            import shutil
            shutil.rmtree(details.read_text().split()[2], ignore_errors=True)


def test_docker_backend_is_loopback_only_secret_free_and_its_death_is_reported_at_once(
        sentinel_environment):
    """The testcontainers backend: its port is published on loopback only (refused from every
    other address of the machine), the container's environment holds none of the user's secrets,
    and a killed container fails the next call at once."""
    from harness.localstack import TestcontainersBackend
    from harness.localstack.containers.docker_check import docker_client

    backend = TestcontainersBackend(progress=lambda _: None)
    log_dir = None
    try:
        localstack = backend.start()
        port = int(localstack.endpoint_url.rsplit(":", 1)[1])
        reachable = [a for a in machine_addresses() if not refused(a, port)]
        assert reachable == [], f"the container's port is reachable from {reachable}"
        sqs = localstack.client("sqs")
        sqs.list_queues()  # despite AWS_PROFILE=nosuch
        client = docker_client()
        try:
            container = client.containers.get(localstack.details["container_id"])
            container_env = "\n".join(container.attrs["Config"]["Env"])
            assert SENTINEL not in container_env and "AWS_PROFILE" not in container_env
            container.kill()
        finally:
            client.close()
        started = time.monotonic()
        with liveness.watching(localstack), pytest.raises(LocalStackDied) as died:
            eventually(lambda: sqs.list_queues() and False, timeout=30)
        assert time.monotonic() - started < 3
        assert "LocalStack exited (code 137 (SIGKILL, or out of memory)) at " in str(died.value)
        log_dir = Path(died.value.log_path).parent
        assert "Ready." in Path(died.value.log_path).read_text()
    finally:
        backend.stop()
        if log_dir:
            import shutil
            shutil.rmtree(log_dir, ignore_errors=True)


DYING_SESSION = textwrap.dedent('''
    import os, signal

    import pytest

    from harness import LocalStackDied, eventually

    def test_1_kills_localstack_and_a_wait_ends_at_once(localstack):
        os.kill(localstack.details["pid"], signal.SIGKILL)
        with pytest.raises(LocalStackDied):
            eventually(lambda: False, timeout=30)

    def test_2_does_not_even_use_localstack(localstack):
        pass
''')


def test_after_localstack_died_every_later_test_fails_saying_why(tmp_path):
    (tmp_path / "test_inner.py").write_text(DYING_SESSION)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tmp_path / "test_inner.py")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    out = result.stdout
    assert result.returncode == 1, out
    assert "1 passed, 1 error" in out
    assert "LocalStackDied: LocalStack exited (signal SIGKILL) at " in out
    kept = re.search(r"LocalStack died: LocalStack's log and the functions' logs are kept in (\S+)",
                     out)
    assert kept, out
    assert (Path(kept.group(1)) / "localstack.log").is_file()
    import shutil
    shutil.rmtree(kept.group(1))
