"""harness.faults: a deployed function misbehaves on demand and is put back afterwards."""

from __future__ import annotations

import json
import time

import pytest

from harness.faults import Fault, inject_fault

ECHO = '''
def handler(event, context):
    return {"echo": event}
'''


def call(lambda_client, name, payload):
    resp = lambda_client.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return resp.get("FunctionError"), json.loads(resp["Payload"].read())


def test_first_n_calls_raise_then_the_real_handler_runs(localstack, create_function,
                                                        lambda_client):
    name = create_function(ECHO)
    with inject_fault(localstack, name, Fault.raise_error("disk full", first_calls=2)):
        results = [call(lambda_client, name, {"n": i}) for i in range(3)]
    assert [r[0] for r in results] == ["Unhandled", "Unhandled", None]
    assert results[0][1]["errorMessage"] == "disk full"
    assert results[2][1] == {"echo": {"n": 2}}
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert config["Handler"] == "index.handler" and not config.get("Layers")
    assert "LSH_FAULT" not in config.get("Environment", {}).get("Variables", {})


def test_only_matching_events_fail(localstack, create_function, lambda_client, lambda_faults):
    name = create_function(ECHO)
    lambda_faults.inject(name, Fault.raise_error(when_contains="poison-order"))
    assert call(lambda_client, name, {"order": "poison-order"})[0] == "Unhandled"
    assert call(lambda_client, name, {"order": "fine-order"}) == (None, {"echo": {"order": "fine-order"}})


def test_rate_zero_never_fails_and_rate_one_always_fails(localstack, create_function,
                                                        lambda_client):
    name = create_function(ECHO)
    with inject_fault(localstack, name, Fault.raise_error(rate=0.0)):
        assert all(call(lambda_client, name, {})[0] is None for _ in range(5))
    with inject_fault(localstack, name, Fault.raise_error(rate=1.0)):
        assert all(call(lambda_client, name, {})[0] == "Unhandled" for _ in range(5))


def test_latency_and_timeout(localstack, create_function, lambda_client):
    name = create_function(ECHO, timeout=2)
    call(lambda_client, name, {})  # warm
    with inject_fault(localstack, name, Fault.latency(0.6)):
        started = time.monotonic()
        assert call(lambda_client, name, {"x": 1}) == (None, {"echo": {"x": 1}})
        assert time.monotonic() - started >= 0.6
    with inject_fault(localstack, name, Fault.timeout()):
        error, body = call(lambda_client, name, {})
    assert error == "Unhandled" and "timed out" in body["errorMessage"]


def test_function_is_restored_when_the_test_body_fails(localstack, create_function,
                                                       lambda_client):
    name = create_function(ECHO)
    with pytest.raises(ZeroDivisionError):
        with inject_fault(localstack, name, Fault.raise_error()):
            1 / 0
    assert call(lambda_client, name, {"ok": True}) == (None, {"echo": {"ok": True}})
