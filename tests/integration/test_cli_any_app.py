"""`lsh send` and `lsh trace` on an app that is not one of ours (the deployer's minimal test app):
targets named by logical id or output name, and the trace built from the stack's resources."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from harness.cli import main
from harness.deploy import CdkApp

MINIMAL = Path(__file__).parent / "cdk_apps" / "minimal"


@pytest.fixture(scope="module")
def minimal(deploy):
    return deploy(CdkApp(MINIMAL))


@pytest.fixture
def lsh(localstack, minimal, monkeypatch, capsys):
    """Run `lsh ...` against the session's LocalStack; return (exit code, stdout, stderr)."""
    monkeypatch.setenv("LSH_ENDPOINT", localstack.endpoint_url)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_send_to_a_queue_named_by_logical_id_prefix(localstack, minimal, lsh):
    marker = f"hello-{uuid.uuid4().hex[:8]}"
    code, out, _ = lsh("send", "queue", "Queue", marker)
    assert code == 0 and "message" in out
    url = minimal.outputs["QueueUrl"]
    bodies = [m["Body"] for m in localstack.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
    assert marker in bodies


def test_trace_finds_a_dead_lettered_message_through_the_stack_resources(lsh):
    marker = f"dead-{uuid.uuid4().hex[:8]}"
    assert lsh("send", "queue", "Dlq", marker)[0] == 0
    code, out, _ = lsh("trace", marker, "--stack", "LshMinimal")
    assert code == 0
    header, *stages = out.splitlines()
    dlq_line = next(line for line in stages if "DLQ Dlq" in line)
    assert dlq_line.strip().startswith("✔") and "dead-lettered" in dlq_line
    queue_line = next(line for line in stages if "queue Queue" in line)
    assert queue_line.strip().startswith("?")  # a queue is only counted, never read
    assert header.startswith(f"trace of {marker!r}: last seen at DLQ Dlq")


def test_bad_input_is_one_line_and_exit_code_2(lsh):
    code, _, err = lsh("send", "bus", "default", "[]")
    assert code == 2 and "must be a JSON object" in err and "Traceback" not in err
    code, _, err = lsh("send", "upload", "BucketName", "/no/such/file")
    assert code == 2 and "is not a file" in err


def test_send_to_a_queue_no_stack_owns_by_its_url(localstack, lsh, create_queue):
    from harness.cli import Targets

    url, _ = create_queue()
    assert Targets(localstack, {}).resolve(url, "AWS::SQS::Queue", "queue") == url  # no app
    code, out, err = lsh("send", "queue", url, "raw")
    assert code == 0, err
    assert localstack.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1)[
        "Messages"][0]["Body"] == "raw"
