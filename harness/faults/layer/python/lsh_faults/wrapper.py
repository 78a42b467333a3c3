"""Runs inside a Lambda function: the harness's fault injection wrapper (stdlib + boto3 only).

The harness points the function's handler here (``lsh_faults.wrapper.handler``) and puts the real
handler in ``LSH_ORIGINAL_HANDLER`` and the fault in ``LSH_FAULT`` (JSON: one fault, or a list of
faults of which each call takes the first that applies). Each call decides whether to misbehave;
otherwise (or after added latency) the real handler runs. An ``answer`` fault returns its result
instead of running the handler.
"""

import importlib
import json
import os
import random
import time

_original = None


def _original_handler():
    global _original
    if _original is None:
        module_name, _, attr = os.environ["LSH_ORIGINAL_HANDLER"].rpartition(".")
        _original = getattr(importlib.import_module(module_name), attr)
    return _original


def _call_number(fault):
    """How many calls this fault has seen, counted across all execution environments."""
    import boto3

    table = fault["counter_table"]
    resp = boto3.client("dynamodb").update_item(
        TableName=table, Key={"fault_id": {"S": fault["id"]}},
        UpdateExpression="ADD calls :one", ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW")
    return int(resp["Attributes"]["calls"]["N"])


def _applies(fault, event):
    text = fault.get("when_contains")
    if text is not None and text not in json.dumps(event, default=str):
        return False
    first = fault.get("first_calls")
    if first is not None and _call_number(fault) > first:
        return False
    rate = fault.get("rate")
    if rate is not None and random.random() >= rate:
        return False
    return True


def _answer(fault, event):
    result = fault.get("result")
    if isinstance(result, dict) and isinstance(event, dict):
        copied = {key: event[key] for key in fault.get("copy_from_event") or () if key in event}
        result = {**result, **copied}
    return result


def _first_applying(faults, event):
    for fault in faults:
        if _applies(fault, event):
            return fault
    return None


def handler(event, context):
    spec = json.loads(os.environ["LSH_FAULT"])
    fault = _first_applying(spec if isinstance(spec, list) else [spec], event)
    if fault is not None:
        print(f"LSH-FAULT {fault['id']}: {fault['kind']}")
        kind = fault["kind"]
        if kind == "answer":
            return _answer(fault, event)
        if kind == "raise":
            raise RuntimeError(fault.get("message") or "fault injected by the harness")
        if kind == "timeout":
            time.sleep(context.get_remaining_time_in_millis() / 1000 + 5)
        if kind == "latency":
            time.sleep(fault.get("seconds", 0))
    return _original_handler()(event, context)
