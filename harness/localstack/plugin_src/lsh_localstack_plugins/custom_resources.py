"""CloudFormation custom resources (``AWS::CloudFormation::CustomResource`` and ``Custom::*``).

Why: LocalStack community 4.8.1 has no provider for them (its custom-resource support is in the
paid edition); it logs "No resource provider found" and reports the resource, and the stack,
complete. So ``bucket.add_event_notification``, ``auto_delete_objects``, ``AwsCustomResource``,
the ``Provider`` framework and a team's own custom resources were silently not run.

This provider follows AWS's protocol: the ``ServiceToken`` Lambda function is invoked (or the SNS
topic is sent the request) with ``RequestType`` Create / Update / Delete, ``ResponseURL``,
``StackId``, ``RequestId``, ``ResourceType``, ``LogicalResourceId``, ``ResourceProperties``
(values as strings, as CloudFormation sends them), ``OldResourceProperties`` and
``PhysicalResourceId``; then it waits for the handler's response ``PUT`` to the ``ResponseURL``,
a route served by LocalStack itself (``/_lsh/cfn-custom-resource/<request id>``).

- ``SUCCESS``: the resource's physical id is the response's ``PhysicalResourceId`` (``Ref``);
  each ``Data`` key is an attribute (``Fn::GetAtt``; dotted keys such as ``Items.0.Name``, as
  ``AwsCustomResource`` returns them, work too).
- ``FAILED``: the resource fails with the handler's ``Reason``.
- An update whose response names another ``PhysicalResourceId`` replaces the resource: the old
  one is sent a Delete (right after the update; AWS does it in the stack's clean-up phase).
- No response within the resource's ``ServiceTimeout`` (seconds), else ``LSH_CUSTOM_RESOURCE_
  TIMEOUT`` (300; AWS waits up to an hour), fails the resource saying so. A Lambda handler that
  crashes without responding fails it at once with the function's error (AWS would retry and
  wait out the hour).

``ResponseURL`` is ``http://`` (AWS gives an ``https://`` presigned S3 URL; LocalStack's
certificate is self-signed, so ``urllib`` would refuse it). The Node.js handlers CDK ships send
their response with ``https.request({hostname, path})`` (port 443, whatever the URL says): Node.js
runtimes of our ``process`` executor preload ``cfn_response_hook.js``, which sends a https request
for this route to LocalStack over HTTP.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"
ROUTE = "/_lsh/cfn-custom-resource"
TIMEOUT_VAR = "LSH_CUSTOM_RESOURCE_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0
#: after a handler's invocation failed, how long a response may still arrive
CRASH_GRACE_S = 2.0
#: where the provider keeps what it needs for later requests, in the resource's deployed model
STATE_KEY = "LshCustomResource"
#: properties CloudFormation reads itself and does not pass on as-is
SERVICE_TIMEOUT = "ServiceTimeout"


class PendingResponses:
    """Responses awaited by request id; the route hands each one in, the provider waits on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, threading.Event] = {}
        self._bodies: dict[str, dict] = {}

    def expect(self, request_id: str) -> None:
        with self._lock:
            self._waiting[request_id] = threading.Event()

    def deliver(self, request_id: str, body: dict) -> bool:
        with self._lock:
            event = self._waiting.get(request_id)
            if event is None:
                return False
            self._bodies[request_id] = body
        event.set()
        return True

    def wait(self, request_id: str, timeout: float) -> dict | None:
        with self._lock:
            event = self._waiting[request_id]
        event.wait(max(0.0, timeout))
        with self._lock:
            return self._bodies.get(request_id)

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._waiting.pop(request_id, None)
            self._bodies.pop(request_id, None)


PENDING = PendingResponses()
_install_lock = threading.Lock()
_installed = False
NODE_HOOK = Path(__file__).with_name("cfn_response_hook.js")


def make_resource(pending: PendingResponses) -> Any:
    from localstack.http import Request, Response, route

    class ResponseUrlResource:
        @route(f"{ROUTE}/<request_id>", methods=["PUT"])
        def on_put(self, request: Request, request_id: str) -> Response:
            try:
                body = json.loads(request.get_data() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                return Response(f"the response body must be a JSON object ({exc})", status=400)
            if not pending.deliver(request_id, body):
                return Response(f"no custom resource request {request_id} is waiting", status=404)
            return Response("", status=200)

    return ResponseUrlResource()


def install() -> None:
    """Serve the response route on LocalStack's edge router and preload the Node.js response hook
    into Node runtimes started from now on (once; before the first handler is invoked)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from localstack.services.edge import ROUTER

        ROUTER.add(make_resource(PENDING))
        install_node_hook()
        _installed = True


def install_node_hook() -> None:
    """``node --require cfn_response_hook.js`` for the ``process`` executor's Node.js runtimes."""
    try:
        from lsh_localstack_plugins.lambda_executor import executor
    except Exception as exc:  # no process executor (e.g. another LAMBDA_RUNTIME_EXECUTOR)
        LOG.info("custom resources: no Node.js response hook (%s)", exc)
        return
    original = getattr(executor, "_node_runtime_command", None)
    if original is None or getattr(original, "lsh_cfn_hook", False):
        if original is None:
            LOG.warning("custom resources: the process executor has no _node_runtime_command; "
                        "Node.js custom-resource handlers cannot send their responses")
        return

    def with_hook(node: str) -> list[str]:
        command = list(original(node))
        at = command.index(node) + 1 if node in command else len(command) - 1
        return command[:at] + ["--require", str(NODE_HOOK)] + command[at:]

    with_hook.lsh_cfn_hook = True  # type: ignore[attr-defined]
    executor._node_runtime_command = with_hook


def as_cfn_strings(value: Any) -> Any:
    """Property values as CloudFormation passes them to a custom resource: scalars as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: as_cfn_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cfn_strings(v) for v in value]
    return value


def attributes_of(data: dict) -> dict:
    """``Data`` as attributes LocalStack's ``Fn::GetAtt`` finds: it splits the attribute name on
    dots and walks nested dicts, so ``{"Items.0.Name": v}`` becomes
    ``{"Items": {"0": {"Name": v}}}``."""
    out: dict = {}
    for key, value in data.items():
        if isinstance(value, (bool, int, float)):
            value = as_cfn_strings(value)
        node = out
        parts = str(key).split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break  # "A" and "A.B" both given: keep the first
            node = child
        else:
            node.setdefault(parts[-1], value)
    return out


def timeout_of(properties: dict) -> float:
    if properties.get(SERVICE_TIMEOUT) not in (None, ""):
        return float(properties[SERVICE_TIMEOUT])
    return float(os.environ.get(TIMEOUT_VAR) or DEFAULT_TIMEOUT_S)


def response_url(request_id: str) -> str:
    from localstack import config

    base = config.internal_service_url(host="127.0.0.1", protocol="http")
    return f"{base}{ROUTE}/{request_id}"


class HandlerFailed(Exception):
    """The handler answered FAILED, crashed, or did not answer in time."""


class CustomResourceProvider:
    """The resource provider LocalStack's CloudFormation engine loads for every custom resource."""

    SCHEMA = {
        "typeName": RESOURCE_TYPE,
        "primaryIdentifier": [f"/properties/{STATE_KEY}/PhysicalResourceId"],
        "properties": {},
    }

    # -- the engine's entry points -------------------------------------------------------------

    def create(self, request: Any) -> Any:
        props = dict(request.desired_state or {})
        return self._run(request, "Create", props, old_state=None)

    def update(self, request: Any) -> Any:
        props = dict(request.desired_state or {})
        old_state = (request.previous_state or {}).get(STATE_KEY)
        if not old_state:  # deployed before this provider existed: nothing to update, create
            return self._run(request, "Create", props, old_state=None)
        return self._run(request, "Update", props, old_state=old_state)

    def delete(self, request: Any) -> Any:
        from localstack.services.cloudformation.resource_provider import (
            OperationStatus,
            ProgressEvent,
        )

        state = (request.previous_state or {}).get(STATE_KEY) or (
            request.desired_state or {}).get(STATE_KEY)
        if not state:  # never created by this provider
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        try:
            self._call(request, "Delete", state["ResourceProperties"], state)
        except HandlerFailed as exc:
            return ProgressEvent(status=OperationStatus.FAILED, resource_model={},
                                 message=str(exc))
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})

    def read(self, request: Any) -> Any:
        raise NotImplementedError

    def list(self, request: Any) -> Any:
        raise NotImplementedError

    # -- the protocol --------------------------------------------------------------------------

    def _run(self, request: Any, request_type: str, props: dict, old_state: dict | None) -> Any:
        from localstack.services.cloudformation.resource_provider import (
            OperationStatus,
            ProgressEvent,
        )

        # a failed update keeps what was deployed (a later Delete still reaches the handler)
        kept = dict(request.previous_state or {}) if old_state else {}
        try:
            response = self._call(request, request_type, props, old_state)
        except HandlerFailed as exc:
            return ProgressEvent(status=OperationStatus.FAILED, resource_model=kept,
                                 message=str(exc))
        physical_id = response.get("PhysicalResourceId") or (
            old_state or {}).get("PhysicalResourceId")
        if not physical_id:
            return ProgressEvent(status=OperationStatus.FAILED, resource_model=kept,
                                 message=f"custom resource {request.logical_resource_id}: the "
                                         "handler's SUCCESS response has no PhysicalResourceId")
        if old_state and old_state.get("PhysicalResourceId") not in (None, physical_id):
            self._delete_replaced(request, old_state)
        data = response.get("Data") or {}
        model = attributes_of(data if isinstance(data, dict) else {})
        model[STATE_KEY] = {"PhysicalResourceId": str(physical_id), "ResourceProperties": props,
                            "ResourceType": request.resource_type}
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def _delete_replaced(self, request: Any, old_state: dict) -> None:
        """A new physical id means a new resource: the old one is deleted, and a failure to
        delete it does not fail the update (as in AWS's clean-up phase)."""
        try:
            self._call(request, "Delete", old_state["ResourceProperties"], old_state)
        except HandlerFailed as exc:
            LOG.warning("custom resource %s: deleting the replaced %s failed: %s",
                        request.logical_resource_id, old_state.get("PhysicalResourceId"), exc)

    def _call(self, request: Any, request_type: str, props: dict,
              old_state: dict | None) -> dict:
        """Send one request to the handler and return its SUCCESS response (else raise)."""
        install()
        token = props.get("ServiceToken")
        name = request.logical_resource_id
        if not token:
            raise HandlerFailed(f"custom resource {name} has no ServiceToken: set it to the ARN "
                                "of the Lambda function or SNS topic that handles it")
        request_id = str(uuid.uuid4())
        is_topic = str(token).startswith("arn:aws:sns:")
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": response_url(request_id),
            "StackId": request.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": name,
            "ResourceType": (old_state or {}).get("ResourceType") or request.resource_type,
            "ResourceProperties": as_cfn_strings(props),
        }
        if old_state:
            event["PhysicalResourceId"] = old_state["PhysicalResourceId"]
        if request_type == "Update" and old_state:
            event["OldResourceProperties"] = as_cfn_strings(old_state["ResourceProperties"])
        timeout = timeout_of(props)
        PENDING.expect(request_id)
        try:
            started = time.monotonic()
            if is_topic:
                self._clients(request).sns.publish(TopicArn=token, Message=json.dumps(event))
                crash = None
            else:
                crash = self._invoke(request, token, event, timeout)
            left = timeout - (time.monotonic() - started)
            response = PENDING.wait(request_id, CRASH_GRACE_S if crash else left)
        finally:
            PENDING.forget(request_id)
        if response is None:
            if crash:
                raise HandlerFailed(f"custom resource {name}: {request_type} handler {token} "
                                    f"failed without sending a response: {crash}")
            raise HandlerFailed(f"custom resource {name}: no response from {token} to the "
                                f"{request_type} request within {timeout:.0f} s (the handler "
                                "must PUT its result to the event's ResponseURL; set "
                                f"{SERVICE_TIMEOUT} or {TIMEOUT_VAR} to wait longer)")
        status = str(response.get("Status", "")).upper()
        if status == "FAILED":
            reason = response.get("Reason") or "the handler gave no Reason"
            raise HandlerFailed(f"{reason}")
        if status != "SUCCESS":
            raise HandlerFailed(f"custom resource {name}: the response's Status is "
                                f"{response.get('Status')!r}, not SUCCESS or FAILED")
        return response

    @staticmethod
    def _clients(request: Any, read_timeout: float = 60.0) -> Any:
        from botocore.config import Config
        from localstack.aws.connect import connect_to

        return connect_to(region_name=request.region_name, aws_access_key_id=request.account_id,
                          config=Config(read_timeout=read_timeout, connect_timeout=10,
                                        retries={"total_max_attempts": 1}))

    def _invoke(self, request: Any, function: str, event: dict, timeout: float) -> str | None:
        """Invoke the handler; return its error (``errorType: errorMessage``) when it crashed.

        Synchronously, so a crash is seen at once (AWS invokes asynchronously and would wait for
        a response until the timeout). A handler may also answer later (CDK's ``Provider``
        framework with ``isComplete`` does, from a Step Functions waiter): then the wait goes on.
        """
        try:
            result = self._clients(request, read_timeout=timeout + 5).lambda_.invoke(
                FunctionName=function, InvocationType="RequestResponse",
                Payload=json.dumps(event).encode())
        except Exception as exc:
            return f"the function could not be invoked: {exc}"
        if not result.get("FunctionError"):
            return None
        raw = result["Payload"].read() if hasattr(result.get("Payload"), "read") else b""
        try:
            error = json.loads(raw or b"{}")
            return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}".strip()
        except ValueError:
            return raw.decode("utf-8", "replace")[:500] or result["FunctionError"]


@functools.cache
def _provider_plugin_class() -> type:
    from localstack.services.cloudformation.resource_provider import (
        CloudFormationResourceProviderPlugin,
    )

    class CustomResourceProviderPlugin(CloudFormationResourceProviderPlugin):
        name = RESOURCE_TYPE

        def __init__(self) -> None:
            self.factory: type | None = None

        def load(self) -> None:
            self.factory = CustomResourceProvider

    return CustomResourceProviderPlugin


def __getattr__(attr: str) -> Any:
    # the entry point names this class; built on first use so that importing this module does
    # not import LocalStack (the unit tests import it without LocalStack)
    if attr == "CustomResourceProviderPlugin":
        return _provider_plugin_class()
    raise AttributeError(attr)
