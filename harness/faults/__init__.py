"""Make a deployed Lambda function misbehave, without touching its code, and put it back after.

    with inject_fault(localstack, "my-function", Fault.raise_error(first_calls=2)):
        ...  # the first two calls raise; later ones run the real handler

The function's handler is pointed at a small wrapper shipped as a layer (``layer/``), with the
fault described in an environment variable. The original configuration (handler, layers,
environment) is restored when the ``with`` block ends, however it ends. In pytest, the
``lambda_faults`` fixture restores everything at teardown even if the test forgot.

Kinds: raise an error, time out (sleep past the function's timeout), add latency, or answer: return
a given result instead of running the handler (a declined payment, an empty search), so a test
can force any business branch without hooks in the app's code. Conditions, combinable: only the
first N calls (counted across execution environments in a DynamoDB table of the harness), only a
fraction of calls, only events whose JSON contains a text.

Several faults can be put on one function at once (``inject(name, fault1, fault2, ...)``): each
call takes the first one whose conditions hold, e.g. one answer per order id in a batch::

    lambda_faults.inject("payments", Fault.answer({"status": "FAILED"}, when_contains=order_a),
                         Fault.raise_error(first_calls=2, when_contains=order_b))
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from harness.errors import HarnessError
from harness.localstack.base import LocalStack

LAYER_DIR = Path(__file__).with_name("layer")
WRAPPER_HANDLER = "lsh_faults.wrapper.handler"
COUNTER_TABLE = "lsh-fault-counters"


@dataclass(frozen=True)
class Fault:
    kind: str  # "raise" | "timeout" | "latency" | "answer"
    message: str | None = None
    seconds: float = 0.0
    first_calls: int | None = None
    rate: float | None = None
    when_contains: str | None = None
    result: Any = None
    copy_from_event: tuple[str, ...] = ()

    @classmethod
    def raise_error(cls, message: str = "fault injected by the harness", **conditions) -> "Fault":
        return cls("raise", message=message, **conditions)

    @classmethod
    def timeout(cls, **conditions) -> "Fault":
        return cls("timeout", **conditions)

    @classmethod
    def latency(cls, seconds: float, **conditions) -> "Fault":
        return cls("latency", seconds=seconds, **conditions)

    @classmethod
    def answer(cls, result: Any, *, copy_from_event: tuple[str, ...] | list[str] = (),
               **conditions) -> "Fault":
        """Return ``result`` (JSON-serializable) without running the handler. Keys named in
        ``copy_from_event`` are copied from the event into a dict result (e.g. ``orderId``)."""
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise HarnessError(f"Fault.answer needs a JSON-serializable result ({exc}): pass "
                               "dicts, lists, strings, numbers, booleans or None") from None
        if copy_from_event and not isinstance(result, dict):
            raise HarnessError("Fault.answer(copy_from_event=...) needs a dict result to copy "
                               "the event's keys into")
        return cls("answer", result=result, copy_from_event=tuple(copy_from_event), **conditions)


def _layer_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(LAYER_DIR.rglob("*.py")):
            zf.write(path, str(path.relative_to(LAYER_DIR)))
    return buf.getvalue()


def _ensure_counter_table(localstack: LocalStack) -> None:
    ddb = localstack.client("dynamodb")
    try:
        ddb.create_table(TableName=COUNTER_TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "fault_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "fault_id",
                                                "AttributeType": "S"}])
    except ddb.exceptions.ResourceInUseException:
        pass


def _wait_updated(lam, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        config = lam.get_function_configuration(FunctionName=name)
        status = config.get("LastUpdateStatus", "Successful")
        if status == "Successful" and config.get("State", "Active") == "Active":
            return
        if status == "Failed" or time.monotonic() > deadline:
            raise HarnessError(f"function {name} did not take its new configuration: {status} "
                               f"{config.get('LastUpdateStatusReason', '')}")
        time.sleep(0.05)


#: Lambda allows 4 KB of environment variables in all
_ENV_LIMIT = 4096


def _spec(fault: Fault, fault_id: str) -> dict:
    """The fault as the wrapper reads it: only the fields that differ from the defaults (the
    function's environment variables must stay under 4 KB together)."""
    defaults = Fault(fault.kind)
    spec = {k: v for k, v in asdict(fault).items() if k == "kind" or v != getattr(defaults, k)}
    spec["id"] = fault_id
    if fault.first_calls is not None:
        spec["counter_table"] = COUNTER_TABLE
    return spec


@dataclass
class InjectedFault:
    function_name: str
    fault_id: str  # the first fault's id (each fault has one: its call counter)
    original: dict
    fault_ids: tuple[str, ...] = ()


class FaultInjector:
    """Injects faults and remembers what to restore; ``restore_all`` puts every function back."""

    def __init__(self, localstack: LocalStack):
        self.localstack = localstack
        self.lam = localstack.client("lambda")
        self.active: list[InjectedFault] = []
        self._layer_arn: str | None = None

    def _layer(self) -> str:
        if self._layer_arn is None:
            self._layer_arn = self.lam.publish_layer_version(
                LayerName="lsh-faults", Content={"ZipFile": _layer_zip()},
                CompatibleRuntimes=["python3.9", "python3.10", "python3.11", "python3.12",
                                    "python3.13"])["LayerVersionArn"]
        return self._layer_arn

    def inject(self, function_name: str, fault: Fault, *more: Fault) -> InjectedFault:
        """Put ``fault`` (and ``more``: each call takes the first whose conditions hold) on
        ``function_name`` until :meth:`restore`."""
        faults = (fault, *more)
        if any(f.function_name == function_name for f in self.active):
            raise HarnessError(f"{function_name} already has a fault injected: restore it first")
        config = self.lam.get_function_configuration(FunctionName=function_name)
        original = {"Handler": config["Handler"],
                    "Layers": [layer["Arn"] for layer in config.get("Layers", [])],
                    "Environment": {"Variables": config.get("Environment", {}).get("Variables", {})}}
        if any(f.first_calls is not None for f in faults):
            _ensure_counter_table(self.localstack)
        specs = [_spec(f, f"{function_name}-{uuid.uuid4().hex[:8]}") for f in faults]
        # one fault stays a plain object: a layer of an older harness reads it
        variables = {**original["Environment"]["Variables"],
                     "LSH_FAULT": json.dumps(specs[0] if len(specs) == 1 else specs),
                     "LSH_ORIGINAL_HANDLER": original["Handler"]}
        size = sum(len(k) + len(v) for k, v in variables.items())
        if size > _ENV_LIMIT:
            raise HarnessError(f"the faults for {function_name} make its environment {size} bytes, "
                               f"over Lambda's {_ENV_LIMIT}: inject fewer faults or smaller "
                               "answers (e.g. one fault matching several events)")
        injected = InjectedFault(function_name, specs[0]["id"], original,
                                 tuple(spec["id"] for spec in specs))
        self.active.append(injected)  # before the update: a failure half-way is still restored
        self.lam.update_function_configuration(
            FunctionName=function_name, Handler=WRAPPER_HANDLER,
            Layers=original["Layers"] + [self._layer()], Environment={"Variables": variables})
        _wait_updated(self.lam, function_name)
        return injected

    def restore(self, injected: InjectedFault) -> None:
        self.lam.update_function_configuration(FunctionName=injected.function_name,
                                               **injected.original)
        _wait_updated(self.lam, injected.function_name)
        self.active.remove(injected)

    def restore_all(self) -> None:
        errors = []
        for injected in list(reversed(self.active)):
            try:
                self.restore(injected)
            except Exception as exc:  # keep restoring the others
                errors.append(f"{injected.function_name}: {exc}")
        if errors:
            raise HarnessError("could not restore: " + "; ".join(errors))


@contextmanager
def inject_fault(localstack: LocalStack, function_name: str, fault: Fault,
                 *more: Fault) -> Iterator[InjectedFault]:
    injector = FaultInjector(localstack)
    injected = injector.inject(function_name, fault, *more)
    try:
        yield injected
    finally:
        injector.restore_all()
