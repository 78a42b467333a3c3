"""Make a deployed Lambda function misbehave, without touching its code, and put it back after.

    with inject_fault(localstack, "my-function", Fault.raise_error(first_calls=2)):
        ...  # the first two calls raise; later ones run the real handler

The function's handler is pointed at a small wrapper shipped as a layer (``layer/``), with the
fault described in an environment variable. The original configuration (handler, layers,
environment) is restored when the ``with`` block ends, however it ends. In pytest, the
``lambda_faults`` fixture restores everything at teardown even if the test forgot.

Kinds: raise an error, time out (sleep past the function's timeout), add latency. Conditions,
combinable: only the first N calls (counted across execution environments in a DynamoDB table of
the harness), only a fraction of calls, only events whose JSON contains a text.
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
from typing import Iterator

from harness.errors import HarnessError
from harness.localstack.base import LocalStack

LAYER_DIR = Path(__file__).with_name("layer")
WRAPPER_HANDLER = "lsh_faults.wrapper.handler"
COUNTER_TABLE = "lsh-fault-counters"


@dataclass(frozen=True)
class Fault:
    kind: str  # "raise" | "timeout" | "latency"
    message: str | None = None
    seconds: float = 0.0
    first_calls: int | None = None
    rate: float | None = None
    when_contains: str | None = None

    @classmethod
    def raise_error(cls, message: str = "fault injected by the harness", **conditions) -> "Fault":
        return cls("raise", message=message, **conditions)

    @classmethod
    def timeout(cls, **conditions) -> "Fault":
        return cls("timeout", **conditions)

    @classmethod
    def latency(cls, seconds: float, **conditions) -> "Fault":
        return cls("latency", seconds=seconds, **conditions)


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


@dataclass
class InjectedFault:
    function_name: str
    fault_id: str
    original: dict


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

    def inject(self, function_name: str, fault: Fault) -> InjectedFault:
        if any(f.function_name == function_name for f in self.active):
            raise HarnessError(f"{function_name} already has a fault injected: restore it first")
        config = self.lam.get_function_configuration(FunctionName=function_name)
        original = {"Handler": config["Handler"],
                    "Layers": [layer["Arn"] for layer in config.get("Layers", [])],
                    "Environment": {"Variables": config.get("Environment", {}).get("Variables", {})}}
        if fault.first_calls is not None:
            _ensure_counter_table(self.localstack)
        fault_id = f"{function_name}-{uuid.uuid4().hex[:8]}"
        spec = {**asdict(fault), "id": fault_id, "counter_table": COUNTER_TABLE}
        variables = {**original["Environment"]["Variables"], "LSH_FAULT": json.dumps(spec),
                     "LSH_ORIGINAL_HANDLER": original["Handler"]}
        injected = InjectedFault(function_name, fault_id, original)
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
def inject_fault(localstack: LocalStack, function_name: str, fault: Fault) -> Iterator[InjectedFault]:
    injector = FaultInjector(localstack)
    injected = injector.inject(function_name, fault)
    try:
        yield injected
    finally:
        injector.restore_all()
