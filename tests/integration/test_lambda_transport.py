"""The ``process`` executor's two transports give a client the same Lambda.

By default (``LSH_LAMBDA_PIPE=1``) LocalStack hands each invocation to the execution environment
on its stdin and reads the logs and result back on its stdout; with ``LSH_LAMBDA_PIPE=0`` the
invocation is an HTTP POST and the result comes back through LocalStack's executor endpoint, as
with LocalStack's own runtimes. The same function runs on both (the session's LocalStack and one
started with the pipe off), and what a client sees must be the same: results larger than a pipe's
buffer intact, error shapes, log lines complete and in order in CloudWatch Logs, and many
invocations in a row on one environment each getting its own result.
"""

from __future__ import annotations

import re

import pytest

from harness.localstack import EmbeddedBackend
from harness.waits import eventually
from tests.integration.conftest import invoke, make_zip, unique, wait_for_function_state

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::000000000000:role/lsh-lambda-transport"
LOG_LINES = 3000  # ~150 KB of log text: more than a pipe's 64 KB buffer
CODE = '''
def handler(event, context):
    if event.get("fail"):
        raise ValueError("refused: " + event["fail"])
    for i in range(event.get("lines", 0)):
        print("line %05d caf\\u00e9 \\u2713 %s" % (i, "x" * 30))
    return {"n": event.get("n"), "blob": "\\u00e9" * event.get("blob", 0)}
'''


@pytest.fixture(scope="module")
def http_localstack():
    backend = EmbeddedBackend(settings={"LSH_LAMBDA_PIPE": "0"})
    try:
        yield backend.start()
    finally:
        backend.stop()


@pytest.fixture(params=["pipe", "http"])
def function(request, localstack):
    """``(lambda client, logs client, function name)`` on the transport named by the param."""
    ls = localstack if request.param == "pipe" else request.getfixturevalue("http_localstack")
    lam = ls.client("lambda")
    name = unique(f"lsh-{request.param}")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": make_zip({"index.py": CODE})},
                        Timeout=10)
    assert wait_for_function_state(lam, name)["State"] == "Active"
    yield lam, ls.client("logs"), name
    lam.delete_function(FunctionName=name)


def test_large_result_and_logs_arrive_whole_and_in_order(function):
    lam, logs, name = function
    result = invoke(lam, name, {"n": 1, "lines": LOG_LINES, "blob": 600_000})

    assert result.function_error is None, result.raw
    assert result.payload == {"n": 1, "blob": "\u00e9" * 600_000}
    assert f"line {LOG_LINES - 1:05d} caf\u00e9 \u2713" in result.log_tail
    request_id = re.search(r"REPORT RequestId: (\S+)", result.log_tail).group(1)

    def all_lines():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        text = "".join(e["message"] for e in events)
        return text if f"REPORT RequestId: {request_id}" in text else None

    text = eventually(all_lines, timeout=30, description="the invocation's REPORT line")
    numbers = [int(n) for n in re.findall(r"^line (\d{5}) caf\u00e9 \u2713 x{30}$", text, re.M)]
    assert numbers == list(range(LOG_LINES))
    assert text.index(f"START RequestId: {request_id}") < text.index("line 00000")
    assert text.index(f"line {LOG_LINES - 1:05d}") < text.index(f"END RequestId: {request_id}")


def test_errors_keep_their_aws_shape(function):
    lam, _, name = function
    result = invoke(lam, name, {"fail": "bad order"})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "refused: bad order"
    assert any("raise ValueError" in line for line in result.payload["stackTrace"])
    assert "[ERROR] ValueError: refused: bad order" in result.log_tail


def test_invocations_in_a_row_each_get_their_own_result(function):
    lam, _, name = function
    for n in range(15):
        event = {"n": n, "lines": 2, "blob": 70_000 * (n % 2)} if n % 3 else {"fail": str(n)}
        result = invoke(lam, name, event)
        if n % 3:
            assert result.function_error is None, result.raw
            assert result.payload["n"] == n
            assert len(result.payload["blob"]) == 70_000 * (n % 2)
        else:
            assert result.payload["errorMessage"] == f"refused: {n}"
