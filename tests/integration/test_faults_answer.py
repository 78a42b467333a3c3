"""harness.faults' answer fault, and several faults on one function: a deployed function returns
a given result (a declined payment) for some calls, runs its real handler otherwise, and is put
back afterwards."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.faults import Fault, inject_fault
from tests.integration.test_faults import ECHO, call


def test_first_n_calls_get_the_answer_then_the_real_handler_runs(localstack, create_function,
                                                                  lambda_client):
    name = create_function(ECHO)
    declined = {"status": "FAILED", "reason": "declined by the test"}
    with inject_fault(localstack, name, Fault.answer(declined, first_calls=2)):
        results = [call(lambda_client, name, {"n": i}) for i in range(3)]
    assert results == [(None, declined), (None, declined), (None, {"echo": {"n": 2}})]
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert config["Handler"] == "index.handler" and not config.get("Layers")
    assert call(lambda_client, name, {"n": 9}) == (None, {"echo": {"n": 9}})


def test_an_answer_can_carry_keys_of_the_event(localstack, create_function, lambda_client,
                                               lambda_faults):
    name = create_function(ECHO)
    lambda_faults.inject(name, Fault.answer({"status": "UNAVAILABLE"},
                                            copy_from_event=["orderId"]))
    assert call(lambda_client, name, {"orderId": "o-1", "other": 1}) == (
        None, {"status": "UNAVAILABLE", "orderId": "o-1"})


def test_several_faults_each_call_takes_the_first_that_applies(localstack, create_function,
                                                               lambda_client, lambda_faults):
    name = create_function(ECHO)
    lambda_faults.inject(
        name,
        Fault.answer({"status": "FAILED"}, when_contains="order-a"),
        Fault.raise_error("flaky", first_calls=1, when_contains="order-b"),
        Fault.answer(None, rate=0.0))  # never applies
    assert call(lambda_client, name, {"o": "order-a"}) == (None, {"status": "FAILED"})
    error, body = call(lambda_client, name, {"o": "order-b"})
    assert error == "Unhandled" and body["errorMessage"] == "flaky"
    assert call(lambda_client, name, {"o": "order-b"}) == (None, {"echo": {"o": "order-b"}})
    assert call(lambda_client, name, {"o": "order-c"}) == (None, {"echo": {"o": "order-c"}})
    assert call(lambda_client, name, {"o": "order-a"}) == (None, {"status": "FAILED"})


def test_a_share_of_calls_get_the_answer(localstack, create_function, lambda_client):
    name = create_function(ECHO)
    with inject_fault(localstack, name, Fault.answer("always", rate=1.0)):
        assert all(call(lambda_client, name, {}) == (None, "always") for _ in range(3))


def test_bad_answers_are_refused_before_anything_changes(localstack, create_function,
                                                         lambda_client):
    name = create_function(ECHO)
    with pytest.raises(HarnessError, match="JSON-serializable"):
        Fault.answer({"when": object()})
    with pytest.raises(HarnessError, match="needs a dict result"):
        Fault.answer("text", copy_from_event=["orderId"])
    huge = [Fault.answer({"status": "FAILED", "pad": "x" * 100}, when_contains=f"o-{i}")
            for i in range(40)]
    with pytest.raises(HarnessError, match="over Lambda's 4096"):
        with inject_fault(localstack, name, *huge):
            pass
    assert lambda_client.get_function_configuration(FunctionName=name)["Handler"] == "index.handler"
