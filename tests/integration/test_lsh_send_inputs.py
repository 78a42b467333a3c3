"""``lsh send`` with clumsy or hostile input (issue 11, item 7): each input is delivered intact
or refused with one line naming the problem, exit 2, no traceback. Fuzzed with Hypothesis over
every Unicode plane and sizes around the queue's limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.deploy import CdkApp, deploy_app
from harness.probes import wait_for_message

MINIMAL = Path(__file__).parent / "cdk_apps" / "minimal"
#: a queue's default MaximumMessageSize: 1 MiB (AWS raised it from 256 KiB in August 2025;
#: LocalStack 4.8.1 has the same default)
SQS_MAX_BYTES = 1_048_576


@pytest.fixture(scope="module")
def minimal(localstack):
    deployed = deploy_app(localstack, CdkApp(MINIMAL))
    limit = localstack.client("sqs").get_queue_attributes(
        QueueUrl=deployed.outputs["QueueUrl"], AttributeNames=["MaximumMessageSize"])
    assert int(limit["Attributes"]["MaximumMessageSize"]) == SQS_MAX_BYTES
    return deployed


@pytest.fixture
def lsh(minimal, localstack, monkeypatch, capsys):
    """``lsh(*argv) -> (exit code, stdout, stderr)`` against the session's LocalStack."""
    monkeypatch.setenv("LSH_ENDPOINT", localstack.endpoint_url)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _refused_in_one_line(code: int, err: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lsh: error: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["send", "bus", "NoSuchBus", "[]"], "detail"),
    (["send", "bus", "NoSuchBus", "{not json"], "not JSON"),
    (["send", "invoke", "NoSuchFunction", "{bad"], "not JSON"),
    (["send", "upload", "Bucket", "/no/such/file"], "is not a file"),
    (["send", "queue", "Queue", ""], ""),
    (["send", "queue", "Queue", "x" * (SQS_MAX_BYTES + 1)], ""),
    (["send", "queue", "Queue", "a\ufffeb"], ""),
    (["send", "queue", "no-such-queue-here", "hello"], ""),
])
def test_a_bad_input_is_one_line_and_exit_2(lsh, argv, words):
    code, _, err = lsh(*argv)
    _refused_in_one_line(code, err)
    assert words in err


any_character = st.one_of(
    st.sampled_from(["\ufffe", "\uffff", "\x00", "\x0b", "\ud800", "\U0010ffff", "\u2028"]),
    st.integers(0, 0x10FFFF).map(chr))


def _delivered_or_refused(lsh, localstack, minimal, text: str) -> None:
    code, out, err = lsh("send", "queue", "Queue", text)
    if code != 0:
        _refused_in_one_line(code, err)
        return
    message_id = re.search(r"→ message (\S+)", out).group(1)
    sqs = localstack.client("sqs")
    got = wait_for_message(sqs, minimal.outputs["QueueUrl"],
                           lambda m: m["MessageId"] == message_id, timeout=10)
    assert got["Body"] == text, "delivered, but not intact"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.text(any_character, max_size=30))
def test_fuzz_every_plane_is_delivered_intact_or_refused_in_one_line(lsh, localstack, minimal,
                                                                     text):
    _delivered_or_refused(lsh, localstack, minimal, text)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(size=st.integers(SQS_MAX_BYTES - 8, SQS_MAX_BYTES + 8), wide=st.sampled_from("aé€😀"))
def test_fuzz_sizes_around_the_limit_are_delivered_or_refused(lsh, localstack, minimal, size,
                                                              wide):
    _delivered_or_refused(lsh, localstack, minimal, wide * (size // len(wide.encode())))
