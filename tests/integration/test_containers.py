"""LocalStack in Docker: the locally built image, backend ``testcontainers``, docker-compose.yml.

Real Docker, no mocks. Needs a running Docker engine: ``make test`` runs ``.ci/docker.sh`` first,
which installs and starts one from Debian's packages. Without one these tests fail (they are not
skipped) with the reason and the fix. The first test may build the image (~2 min cold, well under
a second when cached).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from harness.config import HarnessConfig
from harness.errors import HarnessError, LocalStackStartError
from harness.localstack import create_backend
from harness.localstack.containers import image as images
from harness.localstack.containers.container_backend import (LABEL_MANAGED, LABEL_PID, LABEL_RUN,
                                                             TestcontainersBackend)
from harness.localstack.containers.docker_check import DockerUnavailable, docker_client
from harness.localstack.embedded import free_port
from harness.waits import eventually

REPO = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::000000000000:role/lsh-containers"
QUIET = {"progress": lambda _line: None}


@pytest.fixture(scope="module")
def docker():
    try:
        client = docker_client()
    except DockerUnavailable as exc:
        pytest.fail(f"these tests need Docker (`.ci/docker.sh` installs and starts it): {exc}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def built_image(docker) -> images.ImageBuildResult:
    return images.build_image()


@pytest.fixture(scope="module")
def container_backend(built_image):
    backend = TestcontainersBackend(**QUIET)
    backend.start()
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def ls(container_backend):
    return container_backend.localstack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue()


def containers_labelled(client, label: str) -> list:
    return client.containers.list(all=True, filters={"label": label})


# ---- the image ----------------------------------------------------------------------------------

def test_image_build_is_skipped_when_an_image_with_the_recipe_hash_exists(built_image):
    again = images.build_image()
    assert not again.built and again.tag == built_image.tag == images.image_tag()
    assert again.seconds < 2.0, f"a cached build took {again.seconds} s"
    assert images.image_label(again.tag, images.LABEL_HASH) == images.image_hash()
    assert images.has_plugins(again.tag)
    # the stable tag docker-compose.yml uses points at the current image
    assert images.image_id(images.STABLE_TAG) == again.image_id


def test_lsh_image_build_prints_the_tag_and_says_it_is_up_to_date(built_image):
    result = subprocess.run([sys.executable, "-m", "harness.cli", "image", "build"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == built_image.tag
    assert "up to date" in result.stderr


def test_image_recipe_hash_follows_the_plugin_source(monkeypatch):
    before = images.image_hash()
    monkeypatch.setattr(images.venvs, "plugins_digest", lambda: "something-else")
    assert images.image_hash() != before
    assert images.base_hash() == images.base_hash()  # the heavy base does not depend on plugins


# ---- the backend --------------------------------------------------------------------------------

def test_backend_is_registered_and_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("LSH_BACKEND", "testcontainers")
    monkeypatch.setenv("LSH_IMAGE", "some/image:1")
    cfg = HarnessConfig.from_env()
    backend = create_backend(cfg.backend, **cfg.backend_options())
    assert isinstance(backend, TestcontainersBackend) and backend.image == "some/image:1"


def test_backend_serves_s3_sqs_dynamodb(ls, docker):
    assert ls.backend == "testcontainers" and ls.endpoint_url.startswith("http://127.0.0.1:")
    assert ls.health()["services"]["s3"] in ("available", "running")
    s3 = ls.client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"

    sqs = ls.client("sqs")
    url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    assert url.startswith(ls.endpoint_url), "queue URLs must follow the published port"
    sqs.send_message(QueueUrl=url, MessageBody="ping")
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert got[0]["Body"] == "ping"

    ddb = ls.client("dynamodb")
    table = unique("table")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ddb.put_item(TableName=table, Item={"id": {"S": "1"}, "v": {"N": "42"}})
    assert ddb.get_item(TableName=table, Key={"id": {"S": "1"}})["Item"]["v"] == {"N": "42"}


FUNCTION = '''
import json, os, sys, boto3

def handler(event, context):
    if "Records" in event:  # from the SQS event source: record each body in DynamoDB
        table = boto3.client("dynamodb")
        for record in event["Records"]:
            table.put_item(TableName=os.environ["TABLE"], Item={"id": {"S": record["body"]}})
        return {}
    return {"python": sys.executable, "version": sys.version.split()[0],
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "queues": boto3.client("sqs").list_queues().get("QueueUrls", []),
            "request_id": context.aws_request_id, "echo": event}
'''


def test_lambda_runs_inside_the_container_with_the_process_executor(ls):
    lam, sqs, ddb = ls.client("lambda"), ls.client("sqs"), ls.client("dynamodb")
    queue = sqs.create_queue(QueueName=unique("fn-queue"))["QueueUrl"]
    table = unique("fn-table")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    name = unique("fn")
    lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
                        Code={"ZipFile": make_zip({"app.py": FUNCTION})}, Timeout=20,
                        Environment={"Variables": {"TABLE": table}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 1}).encode())
    assert "FunctionError" not in resp, resp["Payload"].read()
    body = json.loads(resp["Payload"].read())
    # the image's function Python (Debian's 3.11), not the host's
    assert body["python"].startswith(images.FUNCTION_PYTHON_DIR), body
    assert body["echo"] == {"n": 1} and body["request_id"]
    # the function reaches LocalStack from inside the container, and sees the queue we made
    assert body["endpoint"] == ls.endpoint_url
    assert queue in body["queues"]

    # SQS event source -> function -> DynamoDB, inside the container
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, BatchSize=1)
    sqs.send_message(QueueUrl=queue, MessageBody="from-sqs")
    eventually(lambda: ddb.get_item(TableName=table, Key={"id": {"S": "from-sqs"}}).get("Item"),
               timeout=30, description="the SQS message reached DynamoDB through the function")


def test_container_is_labelled_published_on_loopback_and_removed_on_stop(docker, built_image):
    backend = TestcontainersBackend(**QUIET)
    ls = backend.start()
    try:
        container = docker.containers.get(ls.details["container_id"])
        labels = container.labels
        assert labels[LABEL_MANAGED] == "true" and labels[LABEL_RUN] == backend.run_id
        assert labels[LABEL_PID] == str(os.getpid())
        bindings = container.attrs["HostConfig"]["PortBindings"]
        port = ls.endpoint_url.rsplit(":", 1)[1]
        assert bindings == {f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}]}
        assert container.attrs["HostConfig"]["Init"] is True
    finally:
        backend.stop()
        backend.stop()  # idempotent
    assert containers_labelled(docker, f"{LABEL_RUN}={backend.run_id}") == []


def test_foreign_image_without_our_plugins_gets_its_own_executor_and_the_docker_socket(
        docker, built_image):
    """LSH_IMAGE with an image that lacks our plugins (here: our base image, stock LocalStack)."""
    base = images.base_tag()
    backend = TestcontainersBackend(image=base, **QUIET)
    ls = backend.start()
    try:
        assert ls.details["image"] == base and ls.details["image_has_plugins"] is False
        container = docker.containers.get(ls.details["container_id"])
        env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        assert "LAMBDA_RUNTIME_EXECUTOR" not in env and "PROVIDER_OVERRIDE_DYNAMODB" not in env
        mounts = {m["Destination"]: m["Source"] for m in container.attrs["Mounts"]}
        assert mounts.get("/var/run/docker.sock") == "/var/run/docker.sock"
        sqs = ls.client("sqs")
        assert sqs.create_queue(QueueName=unique("foreign"))["QueueUrl"].startswith(
            ls.endpoint_url)
    finally:
        backend.stop()


def test_auth_token_is_passed_through(monkeypatch):
    monkeypatch.setenv("LOCALSTACK_AUTH_TOKEN", "ls-token-123")
    env = TestcontainersBackend(**QUIET).environment(4566, own_image=False)
    assert env["LOCALSTACK_AUTH_TOKEN"] == "ls-token-123"
    monkeypatch.delenv("LOCALSTACK_AUTH_TOKEN")
    assert "LOCALSTACK_AUTH_TOKEN" not in TestcontainersBackend(**QUIET).environment(4566, True)


def test_a_container_that_exits_fails_at_once_with_its_log(docker, built_image):
    backend = TestcontainersBackend(settings={"PYTHONHOME": "/nonexistent"}, **QUIET)
    started = time.monotonic()
    with pytest.raises(LocalStackStartError) as info:
        backend.start()
    assert time.monotonic() - started < 30
    assert "container exited (exit code 1) before it was ready" in str(info.value)
    assert "encodings" in info.value.log_tail  # what Python said before it died
    assert info.value.log_tail, "the error carries the tail of the container's log"
    assert containers_labelled(docker, f"{LABEL_RUN}={backend.run_id}") == []


# ---- no container outlives its test process -----------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_killed_test_process_leaves_no_container(docker, built_image, tmp_path, sig):
    """SIGKILL/SIGTERM: no cleanup runs in the process (the reaper removes the container);
    SIGINT (Ctrl-C): KeyboardInterrupt, then atexit stops it."""
    script = tmp_path / "start.py"
    script.write_text(textwrap.dedent("""
        import signal, sys, time
        # Ctrl-C as in a terminal, also when pytest runs as a background job (SIGINT ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from harness.localstack.containers.container_backend import TestcontainersBackend
        backend = TestcontainersBackend(progress=lambda _line: None)
        backend.start()
        print(backend.run_id, flush=True)
        time.sleep(600)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, "the child did not start LocalStack"
        assert len(containers_labelled(docker, f"{LABEL_RUN}={run_id}")) == 1
    finally:
        proc.send_signal(sig)
        proc.wait(timeout=60)
    eventually(lambda: containers_labelled(docker, f"{LABEL_RUN}={run_id}") == [], timeout=30,
               description=f"the container of run {run_id} is gone after {sig.name}")


def test_lsh_up_on_this_backend_serves_and_ctrl_c_removes_the_container(docker, built_image,
                                                                         tmp_path):
    from harness import up_state

    port = free_port()
    # a cache folder of its own (the image linked in): no other session finds this up's up.json
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "LSH_CACHE_DIR": str(up_state.private_cache(tmp_path / "cache"))}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "up", "--backend",
                             "testcontainers", "--port", str(port), "--no-deploy"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in line:
                break
        else:
            pytest.fail("lsh up ended before it was ready:\n" + "".join(lines))
        ours = containers_labelled(docker, f"{LABEL_PID}={proc.pid}")
        assert len(ours) == 1 and ours[0].status == "running"
        from harness.localstack import ExternalBackend

        ls = ExternalBackend(f"http://127.0.0.1:{port}", wait_seconds=10).start()
        assert ls.client("sqs").create_queue(QueueName=unique("up"))["QueueUrl"].startswith(
            f"http://127.0.0.1:{port}/")
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), "".join(lines) + rest
    assert "Traceback" not in rest, rest
    assert containers_labelled(docker, f"{LABEL_PID}={proc.pid}") == []


def test_no_container_of_ours_is_left_after_a_pytest_session(docker, built_image, tmp_path):
    """A whole pytest session on this backend, with a passing and a failing test."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        def test_uses_localstack(localstack):
            assert localstack.backend == "testcontainers"
            localstack.client("sqs").create_queue(QueueName="inner")

        def test_fails(localstack):
            assert False, "this failure must not leave the container behind"
    """))
    env = {**os.environ, "LSH_BACKEND": "testcontainers"}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-p", "no:xdist", str(tmp_path)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate(timeout=300)
    assert "1 failed, 1 passed" in output, output
    assert containers_labelled(docker, f"{LABEL_PID}={proc.pid}") == [], output


def test_no_container_of_ours_is_left_from_earlier_tests(docker):
    """Every container this module started is gone (the module fixture's is still in use)."""
    mine = [c for c in containers_labelled(docker, f"{LABEL_PID}={os.getpid()}")]
    assert len(mine) <= 1, [c.name for c in mine]


# ---- a clear error when Docker is not there ----------------------------------------------------

def test_clear_error_when_the_docker_daemon_is_not_reachable(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    result = subprocess.run([sys.executable, "-m", "harness.cli", "image", "build"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "not running or not reachable" in result.stderr
    assert "apt-get install -y docker.io" in result.stderr and "dockerd" in result.stderr


def test_clear_error_from_the_backend_when_docker_is_not_reachable(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(DockerUnavailable, match="dockerd") as info:
        create_backend("testcontainers", **QUIET).start()
    assert isinstance(info.value, HarnessError)


def test_clear_error_when_docker_is_not_installed(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `docker` command
    with pytest.raises(DockerUnavailable, match="not installed.*apt-get install -y docker.io"):
        images.build_image(**QUIET)


# ---- docker-compose.yml -------------------------------------------------------------------------

def test_compose_file_starts_serves_and_goes_down(docker, built_image):
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.fail("docker-compose is not installed: apt-get install -y docker-compose "
                    "(.ci/docker.sh does it)")
    project = f"lshtest{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "LSH_PORT": str(port)}
    base = [compose, "-f", str(REPO / "docker-compose.yml"), "-p", project]
    up = subprocess.run(base + ["up", "-d"], env=env, capture_output=True, text=True,
                        timeout=120)
    try:
        assert up.returncode == 0, up.stderr
        name = f"{project}_localstack_1"

        def healthy():
            state = docker.containers.get(name).attrs["State"]
            assert state["Running"], state
            return state.get("Health", {}).get("Status") == "healthy"

        eventually(healthy, timeout=90, description="the compose service is healthy")
        container = docker.containers.get(name)
        assert container.labels.get("lsh.compose") == "true"
        assert container.image.id == images.image_id(images.STABLE_TAG)

        from harness.localstack import ExternalBackend

        ls = ExternalBackend(f"http://127.0.0.1:{port}", wait_seconds=10).start()
        sqs = ls.client("sqs")
        url = sqs.create_queue(QueueName="compose-queue")["QueueUrl"]
        assert url == f"http://127.0.0.1:{port}/queue/us-east-1/000000000000/compose-queue"
        sqs.send_message(QueueUrl=url, MessageBody="via compose")
        assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]["Body"] == (
            "via compose")
        # the SNS publish log `lsh trace` reads is on there too
        from harness.sns_log import SnsPublishLog

        sns = ls.client("sns")
        topic = sns.create_topic(Name="compose-topic")["TopicArn"]
        sns.publish(TopicArn=topic, Message="published via compose")
        assert [r.topic_arn for r in SnsPublishLog(ls).published(
            contains="published via compose")] == [topic]
    finally:
        down = subprocess.run(base + ["down", "--timeout", "5"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert docker.containers.list(all=True, filters={"label": "com.docker.compose.project="
                                                     + project}) == []
