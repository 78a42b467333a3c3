"""The embedded LocalStack backend against real AWS calls, and how it starts and stops."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from harness.errors import LocalStackNotReachable, LocalStackStartError
from harness.localstack import EmbeddedBackend, ExternalBackend, processes, venvs
from harness.waits import eventually

REPO = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_s3_put_and_get(localstack):
    s3 = localstack.client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/a file.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="dir/a file.txt")["Body"].read() == b"hello"


def test_sns_delivers_raw_message_to_sqs(localstack):
    sns, sqs = localstack.client("sns"), localstack.client("sqs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    queue_url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message='{"n": 1}')

    def received():
        return sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages")

    messages = eventually(received, timeout=10)
    assert json.loads(messages[0]["Body"]) == {"n": 1}


def _create_table(ddb, name, stream=False):
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        **(extra if stream else {}))


def test_dynamodb_put_get_query(localstack):
    ddb = localstack.client("dynamodb")
    table = unique("table")
    _create_table(ddb, table)
    for sk in range(3):
        ddb.put_item(TableName=table, Item={"pk": {"S": "order"}, "sk": {"N": str(sk)},
                                            "status": {"S": f"s{sk}"}})
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "order"}, "sk": {"N": "1"}})["Item"]
    assert item["status"] == {"S": "s1"}
    result = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk >= :s",
                       ExpressionAttributeValues={":p": {"S": "order"}, ":s": {"N": "1"}})
    assert [i["sk"]["N"] for i in result["Items"]] == ["1", "2"]


def test_dynamodb_stream_records_changes(localstack):
    ddb, streams = localstack.client("dynamodb"), localstack.client("dynamodbstreams")
    table = unique("table")
    _create_table(ddb, table, stream=True)
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    ddb.update_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                    UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "x"}})
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["NewImage"]["v"] == {"S": "x"}


def test_external_backend_uses_a_running_localstack(localstack):
    with ExternalBackend(localstack.endpoint_url) as external:
        assert external.client("sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_external_backend_names_the_missing_endpoint():
    with pytest.raises(LocalStackNotReachable, match="LSH_ENDPOINT"):
        ExternalBackend("http://127.0.0.1:9", wait_seconds=0.5).start()


def test_port_taken_fails_with_clear_message():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(LocalStackStartError, match=rf"port {port} .* already in use"):
            EmbeddedBackend(port=port).start()


def test_broken_venv_fails_with_cause_and_log_tail(tmp_path, monkeypatch):
    real_function_venv = venvs.function_venv()
    monkeypatch.setenv("LSH_CACHE_DIR", str(tmp_path))
    venvs.function_venv_path().symlink_to(real_function_venv)
    broken = venvs.localstack_venv_path()  # a venv without LocalStack in it
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(broken)], check=True)
    (broken / venvs.COMPLETE_MARKER).write_text("pretend")
    backend = EmbeddedBackend(startup_timeout=30)
    with pytest.raises(LocalStackStartError) as info:
        backend.start()
    message = str(info.value)
    assert "exited with code" in message and "is broken" in message
    assert "No module named 'localstack'" in info.value.log_tail
    assert processes.pids_of_run(backend.run_id) == []


SESSION_TEST = textwrap.dedent('''
    import io, json, os, zipfile

    def test_uses_localstack(localstack):
        with open(os.environ["RUN_ID_FILE"], "w") as f:
            f.write(localstack.details["run_id"])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", "def handler(event, context):\\n    return event\\n")
        lam = localstack.client("lambda")
        lam.create_function(FunctionName="f", Runtime="python3.11", Handler="app.handler",
                            Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": buf.getvalue()})
        lam.get_waiter("function_active_v2").wait(FunctionName="f")
        assert json.loads(lam.invoke(FunctionName="f", Payload=b'{"a": 1}')["Payload"].read()) == {"a": 1}
        assert os.environ.get("FAIL") != "1", "this test fails on purpose"
''')


@pytest.mark.parametrize("fail", [False, True], ids=["passing-session", "failing-session"])
def test_pytest_session_leaves_no_process_behind(tmp_path, fail):
    """A whole pytest session with a Lambda environment running: nothing survives it."""
    (tmp_path / "test_inner.py").write_text(SESSION_TEST)
    run_id_file = tmp_path / "run_id"
    env = dict(os.environ, RUN_ID_FILE=str(run_id_file), FAIL="1" if fail else "0")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tmp_path / "test_inner.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == (1 if fail else 0), result.stdout + result.stderr
    run_id = run_id_file.read_text()
    assert processes.pids_of_run(run_id) == []


KILLED_PARENT = textwrap.dedent('''
    import signal, sys, time
    # Ctrl-C as in a terminal, also when pytest runs as a background job (SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from harness.localstack import EmbeddedBackend
    backend = EmbeddedBackend()
    ls = backend.start()
    print(ls.details["run_id"], flush=True)
    time.sleep(600)
''')


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_parent_leaves_no_process_behind(tmp_path, sig):
    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT], stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        run_id = parent.stdout.readline().strip()
        assert run_id, "the parent did not start LocalStack"
        assert processes.pids_of_run(run_id), "LocalStack should be running now"
        parent.send_signal(sig)
        parent.wait(timeout=30)
        eventually(lambda: processes.pids_of_run(run_id) == [], timeout=30,
                   description=f"processes of run {run_id} gone after {sig.name} of the parent")
    finally:
        if parent.poll() is None:
            parent.kill()


XDIST_TESTS = textwrap.dedent('''
    import os, uuid

    import pytest

    @pytest.mark.parametrize("n", range(4))
    def test_worker_uses_the_shared_localstack(localstack, n):
        sqs = localstack.client("sqs")
        sqs.create_queue(QueueName=f"q-{n}-{uuid.uuid4().hex[:6]}")
        with open(os.path.join(os.environ["OUT_DIR"], f"{os.environ['PYTEST_XDIST_WORKER']}-{n}"), "w") as f:
            f.write(localstack.endpoint_url)
''')


def test_xdist_workers_share_one_localstack_and_leave_nothing(tmp_path):
    (tmp_path / "test_x.py").write_text(XDIST_TESTS)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-n", "2", str(tmp_path / "test_x.py")], cwd=tmp_path,
                            env=dict(os.environ, OUT_DIR=str(out)), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    records = {p.name: p.read_text() for p in out.iterdir()}
    assert len(records) == 4
    assert len({name.split("-")[0] for name in records}) == 2, "both workers ran tests"
    endpoints = set(records.values())
    assert len(endpoints) == 1, f"workers used different LocalStacks: {records}"
    port = endpoints.pop().rsplit(":", 1)[1]
    assert pids_listening_as(port) == [], "the shared LocalStack was left running"


def pids_listening_as(port: str) -> list[int]:
    """Processes started as a LocalStack gateway on 127.0.0.1:<port> (from their environment)."""
    needle = f"GATEWAY_LISTEN=127.0.0.1:{port}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
