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
