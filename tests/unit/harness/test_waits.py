import itertools

import pytest

from harness.waits import EventuallyTimeout, eventually


def test_returns_the_first_truthy_value():
    values = iter([None, [], {"ok": 1}])
    assert eventually(lambda: next(values), timeout=2) == {"ok": 1}


def test_retries_assertion_errors_until_the_check_holds():
    calls = itertools.count(1)

    def check():
        n = next(calls)
        assert n >= 3, f"only {n} calls"
        return n

    assert eventually(check, timeout=2) == 3


def test_timeout_names_the_check_attempts_and_last_assertion():
    def queue_is_empty():
        assert 1 == 2, "queue still has 4 messages"

    with pytest.raises(EventuallyTimeout) as info:
        eventually(queue_is_empty, timeout=0.3)
    err = info.value
    assert err.attempts > 1
    assert "queue_is_empty" in str(err) and "queue still has 4 messages" in str(err)
    assert "0.3 s" in str(err)


def test_timeout_reports_the_last_falsy_result():
    with pytest.raises(EventuallyTimeout, match=r"returned \[\]"):
        eventually(lambda: [], timeout=0.2, description="messages arrive")


def test_other_exceptions_are_not_retried():
    calls = []

    def boom():
        calls.append(1)
        raise KeyError("bug in the check")

    with pytest.raises(KeyError):
        eventually(boom, timeout=2)
    assert len(calls) == 1


def test_timeout_carries_the_diagnosis():
    with pytest.raises(EventuallyTimeout) as info:
        eventually(lambda: None, timeout=0.1, description="item confirmed",
                   diagnose=lambda: "event abc: stuck in the ingest DLQ")
    assert "stuck in the ingest DLQ" in str(info.value)
    assert info.value.diagnosis == "event abc: stuck in the ingest DLQ"


def test_a_broken_diagnosis_does_not_hide_the_timeout():
    def diagnose():
        raise RuntimeError("logs unavailable")

    with pytest.raises(EventuallyTimeout, match="diagnosis failed: RuntimeError: logs unavailable"):
        eventually(lambda: None, timeout=0.1, diagnose=diagnose)


async def test_async_twin_accepts_coroutine_checks():
    calls = itertools.count(1)

    async def check():
        n = next(calls)
        assert n >= 2
        return n

    from harness.waits import eventually_async

    assert await eventually_async(check, timeout=2) == 2


async def test_async_twin_runs_blocking_checks_off_the_loop_and_times_out():
    from harness.waits import eventually_async

    with pytest.raises(EventuallyTimeout, match="returned 0"):
        await eventually_async(lambda: 0, timeout=0.2, description="count")


def test_default_policy_polls_no_faster_than_the_cap_once_settled():
    from harness.waits import DEFAULT_POLICY

    import time

    stamps = []

    def check():
        stamps.append(time.monotonic())
        return None

    with pytest.raises(EventuallyTimeout):
        eventually(check, timeout=1.0, feed=None)  # polling only: no change feed
    settled = [b - a for a, b in zip(stamps[10:-1], stamps[11:-1])]  # the last one is at the deadline
    assert min(settled) >= DEFAULT_POLICY.cap * 0.9
    assert len(stamps) < 40, "a waiting check must stay under ~20-40 requests per second"
