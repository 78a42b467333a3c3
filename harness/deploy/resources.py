"""Find a deployed app's resources by logical id or by CDK construct path, without outputs.

Why: a CDK app rarely exports an output for every queue, table or state machine a test needs,
and its logical ids carry hashes (``OrdersTable3F5A2B1C``). Every resource CDK synthesizes
carries its construct path in the template (``Metadata["aws:cdk:path"]``, e.g.
``Orders/OrdersTable/Resource``), so a test can name it as the app's code does: ``OrdersTable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError

#: trailing construct ids CDK gives the CloudFormation resource of an L2 construct
_L1_IDS = ("Resource", "Default")
#: boto3 resource handles for the types that have one: (service, resource class, id from physical)
_HANDLES = {
    "AWS::DynamoDB::Table": ("dynamodb", "Table"),
    "AWS::S3::Bucket": ("s3", "Bucket"),
    "AWS::SQS::Queue": ("sqs", "Queue"),
    "AWS::SNS::Topic": ("sns", "Topic"),
    "AWS::IAM::Role": ("iam", "Role"),
}


class ResourceNotFound(HarnessError):
    """No resource (or more than one) matches a lookup; the message lists what exists."""


@dataclass
class DeployedResource:
    """One resource of a deployed stack."""

    stack: str
    logical_id: str
    physical_id: str
    type: str
    #: the CDK construct path (``aws:cdk:path``), when the template has it
    path: str | None = None
    localstack: Any = field(default=None, repr=False, compare=False)

    @property
    def handle(self) -> Any:
        """A boto3 resource for it (DynamoDB ``Table``, S3 ``Bucket``, SQS ``Queue``, SNS
        ``Topic``, IAM ``Role``), else ``None``: use ``physical_id`` with a client."""
        if self.type not in _HANDLES or self.localstack is None:
            return None
        service, kind = _HANDLES[self.type]
        return getattr(self.localstack.resource(service), kind)(self.physical_id)

    def describe(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.logical_id} ({self.type}){where} in {self.stack}"


def _short_paths(path: str, stack: str) -> list[str]:
    """The names a construct path answers to: in full, without the stack, without the trailing
    ``Resource``/``Default``, and each trailing run of construct ids (``Table``,
    ``Orders/Table``)."""
    parts = path.split("/")
    if parts and parts[0] == stack:
        parts = parts[1:]
    trimmed = parts[:-1] if len(parts) > 1 and parts[-1] in _L1_IDS else parts
    names = {path, "/".join(parts), "/".join(trimmed)}
    names.update("/".join(trimmed[i:]) for i in range(len(trimmed)))
    return [n for n in names if n]


def find(resources: list[DeployedResource], name: str,
         resource_type: str | None = None) -> DeployedResource:
    """The one resource ``name`` means: its logical id, its construct path, or the end of its
    construct path (``OrdersTable`` for ``Stack/OrdersTable/Resource``), else the one resource
    inside construct ``name``; optionally of one type. An exact logical id wins over a path;
    several matches or none are an error listing them."""
    pool = [r for r in resources if resource_type is None or r.type == resource_type]
    exact = [r for r in pool if r.logical_id == name or r.physical_id == name]
    if len(exact) == 1:
        return exact[0]
    by_path = [r for r in pool if r.path and name in _short_paths(r.path, r.stack)]
    if not by_path:  # a construct holding the resource (``Ingest`` for ``Stack/Ingest/Queue``)
        by_path = [r for r in pool if r.path and f"/{name.strip('/')}/" in f"/{r.path}/"]
    if len(by_path) == 1:
        return by_path[0]
    what = f"{resource_type} " if resource_type else ""
    if len(by_path) > 1:
        raise ResourceNotFound(
            f"{len(by_path)} {what}resources match {name!r}: "
            f"{'; '.join(r.describe() for r in by_path)}. Name one by its logical id or a longer "
            "construct path")
    listing = "\n".join(f"  {r.describe()}" for r in pool[:60]) or "  (none)"
    more = f"\n  ... and {len(pool) - 60} more" if len(pool) > 60 else ""
    raise ResourceNotFound(f"no {what}resource {name!r} (by logical id or CDK construct path) in "
                           f"this deployment; it has:\n{listing}{more}")


def list_resources(localstack: Any, stacks: dict[str, Any]) -> list[DeployedResource]:
    """Every resource of ``stacks`` (name -> DeployedStack), with construct paths from their
    templates (kept by the deployer, else read back from CloudFormation)."""
    import json

    cfn = localstack.client("cloudformation")
    found = []
    for name, stack in stacks.items():
        template = getattr(stack, "details", {}).get("template")
        if template is None:
            body = cfn.get_template(StackName=name)["TemplateBody"]
            template = body if isinstance(body, dict) else json.loads(body)
        declared = template.get("Resources", {})
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]:
            meta = declared.get(r["LogicalResourceId"], {}).get("Metadata", {})
            found.append(DeployedResource(
                stack=name, logical_id=r["LogicalResourceId"],
                physical_id=r.get("PhysicalResourceId", ""), type=r["ResourceType"],
                path=meta.get("aws:cdk:path"), localstack=localstack))
    return found
