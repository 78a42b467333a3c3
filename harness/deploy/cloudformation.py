"""Create or update one CloudFormation stack with boto3, fast, with readable failures."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
TEMPLATE_BODY_LIMIT = 51_200  # bytes: larger templates must be passed by URL


class DeployError(HarnessError):
    """A stack did not reach CREATE_COMPLETE / UPDATE_COMPLETE. Lists the failed resources."""


@dataclass
class DeployedStack:
    name: str
    outputs: dict[str, str]
    status: str
    changed: bool
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def template_parameters(template: dict, given: dict[str, str] | None = None,
                        stack_name: str = "") -> list[dict[str, str]]:
    """Every parameter's value: the one ``given`` (by ``Name`` or ``Stack:Name``, as the CDK CLI's
    ``--parameters``), else its default, passed explicitly. A parameter with neither is an error
    naming it and how to pass it.

    Why explicit defaults: on LocalStack 4.8.1 an update that lets CloudFormation reuse previous
    values fails with "Parameter BootstrapVersion should either have input value or default
    value" (the CDK CLI's ``--no-previous-parameters`` works around the same thing).
    """
    given = given or {}
    values, missing = [], []
    for key, spec in template.get("Parameters", {}).items():
        if f"{stack_name}:{key}" in given:
            value = given[f"{stack_name}:{key}"]
        elif key in given:
            value = given[key]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            missing.append(f"{key} ({spec.get('Type', 'String')}"
                           f"{': ' + spec['Description'] if spec.get('Description') else ''})")
            continue
        values.append({"ParameterKey": key, "ParameterValue": str(value)})
    if missing:
        raise DeployError(
            f"stack {stack_name or '?'} needs a value for parameter(s) {', '.join(missing)}, which "
            "have no default: pass CdkApp(..., parameters={'NAME': 'value'}) (or "
            "'STACK:NAME'), or `pytest --lsh-parameter NAME=value`")
    return values


#: the reason LocalStack records on a resource it has no provider for and skipped
SKIPPED_MARK = "is not supported but was deployed as a fallback"


def skipped_resources(cfn, name: str, template: dict) -> list[str]:
    """The template's resources LocalStack skipped (no provider) yet reported complete."""
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    resources = template.get("Resources", {})
    skipped = {e["LogicalResourceId"] for e in events
               if SKIPPED_MARK in (e.get("ResourceStatusReason") or "")}
    return sorted(f"{lid} ({resources[lid].get('Type')})" for lid in skipped if lid in resources)


def failed_since(cfn, name: str, seen: set[str]) -> str:
    """Lines for the failed resource events that are not in ``seen`` (events before an update).

    Why: LocalStack 4.8.1's ``UpdateStack`` sets UPDATE_COMPLETE even when a resource failed
    (its worker ignores the executor's failure), so the status alone says nothing. A failed
    delete is left out: AWS too completes an update whose clean-up could not delete something."""
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    return "\n".join(f"  {e['LogicalResourceId']} ({e.get('ResourceType')}): {e['ResourceStatus']}"
                     f": {e.get('ResourceStatusReason', '')}" for e in events
                     if e["EventId"] not in seen
                     and e.get("ResourceStatus") in ("CREATE_FAILED", "UPDATE_FAILED")
                     and e.get("ResourceType") != "AWS::CloudFormation::Stack")


def stack_status(cfn, name: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def wait_for_stack(cfn, name: str, timeout: float, poll: float = 0.25) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {stack['StackStatus']} after {timeout:.0f} s")
        time.sleep(poll)


def failure_reasons(cfn, name: str, limit: int = 15) -> str:
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    lines = [f"  {e['LogicalResourceId']} ({e.get('ResourceType')}): {e['ResourceStatus']}: "
             f"{e.get('ResourceStatusReason', '')}"
             for e in events if "FAILED" in e.get("ResourceStatus", "")]
    return "\n".join(lines[:limit]) or "  (no failed resource events recorded)"


def deploy_stack(cfn, name: str, template: dict, template_url: str | None = None,
                 timeout: float = 300.0, parameters: dict[str, str] | None = None,
                 allow_skipped: bool = False) -> DeployedStack:
    """Create ``name`` or update it to ``template``; a no-change update is a fast no-op.

    ``parameters`` are CloudFormation parameter values (see :func:`template_parameters`). A
    resource LocalStack skipped for want of a provider fails the deploy (it would exist on AWS)
    unless ``allow_skipped``."""
    started = time.monotonic()
    body = json.dumps(template)
    source = ({"TemplateBody": body} if len(body.encode()) <= TEMPLATE_BODY_LIMIT or not template_url
              else {"TemplateURL": template_url})
    args = dict(StackName=name, Parameters=template_parameters(template, parameters, name),
                Capabilities=CAPABILITIES, **source)
    status = stack_status(cfn, name)
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"):
        cfn.delete_stack(StackName=name)  # a stack that never got created cannot be updated
        wait_for_gone(cfn, name, timeout)
        status = None
    changed = True
    if status is None:
        cfn.create_stack(**args)
        expected = "CREATE_COMPLETE"
    else:
        seen = {e["EventId"] for e in cfn.describe_stack_events(StackName=name)["StackEvents"]}
        try:
            cfn.update_stack(**args)
            expected = "UPDATE_COMPLETE"
        except cfn.exceptions.ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
            changed, expected = False, status
    stack = wait_for_stack(cfn, name, timeout) if changed else cfn.describe_stacks(
        StackName=name)["Stacks"][0]
    if stack["StackStatus"] != expected:
        raise DeployError(f"stack {name} ended {stack['StackStatus']} "
                          f"({stack.get('StackStatusReason', 'no reason given')}); failed "
                          f"resources:\n{failure_reasons(cfn, name)}")
    if changed and status is not None:
        failed = failed_since(cfn, name, seen)
        if failed:  # LocalStack 4.8.1 reports UPDATE_COMPLETE whatever failed
            raise DeployError(f"stack {name} reported {stack['StackStatus']}, but resources "
                              f"failed in the update:\n{failed}")
    skipped = [] if allow_skipped else skipped_resources(cfn, name, template)
    if skipped:
        raise DeployError(
            f"stack {name} reported {stack['StackStatus']}, but LocalStack has no provider for "
            f"{', '.join(skipped)} and skipped it: on AWS it would exist, here it does not. "
            "Replace it with a supported resource, or pass allow_skipped=True "
            "(CdkApp(allow_skipped=True)) if the test does not need it")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return DeployedStack(name, outputs, stack["StackStatus"], changed,
                         round(time.monotonic() - started, 3))


def wait_for_gone(cfn, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while stack_status(cfn, name) not in (None, "DELETE_COMPLETE"):
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} was not deleted within {timeout:.0f} s")
        time.sleep(0.25)
