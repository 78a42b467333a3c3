"""CloudFormation resource provider for ``AWS::Events::Archive``, which LocalStack 4.8.1 community
lacks (it skips the resource silently: the stack completes without the archive).

Registered as an entry point in ``localstack.cloudformation.resource_providers``
(``entry_points.d/events_archive.txt``); a module of its own because importing LocalStack's
resource-provider base costs ~0.4 s, paid only when CloudFormation first needs an archive.
"""

from __future__ import annotations

import json
from typing import Any

from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
)

ARCHIVE_SCHEMA: dict[str, Any] = {
    "typeName": "AWS::Events::Archive",
    "properties": {
        "ArchiveName": {"type": "string"},
        "SourceArn": {"type": "string"},
        "Description": {"type": "string"},
        "EventPattern": {"type": ["object", "string"]},
        "RetentionDays": {"type": "integer"},
        "KmsKeyIdentifier": {"type": "string"},
        "Arn": {"type": "string"},
    },
    "required": ["SourceArn"],
    "createOnlyProperties": ["/properties/ArchiveName", "/properties/SourceArn"],
    "readOnlyProperties": ["/properties/Arn"],
    "primaryIdentifier": ["/properties/ArchiveName"],
}

#: EventBridge's limit on archive names
_ARCHIVE_NAME_MAX = 48


def _archive_provider_class():
    def pattern_text(pattern: Any) -> str | None:
        if pattern is None or isinstance(pattern, str):
            return pattern
        return json.dumps(pattern)

    class EventsArchiveProvider(ResourceProvider):
        """Creates, updates and deletes an archive with EventBridge's own API; ``Ref`` is its
        name, ``Fn::GetAtt Arn`` its ARN (as on AWS)."""

        TYPE = "AWS::Events::Archive"
        SCHEMA = ARCHIVE_SCHEMA

        def create(self, request):
            model = request.desired_state
            if not model.get("ArchiveName"):
                suffix = request.logical_resource_id[:20]
                model["ArchiveName"] = (
                    f"{request.stack_name[:_ARCHIVE_NAME_MAX - len(suffix) - 1]}-{suffix}")
            kwargs = {"ArchiveName": model["ArchiveName"], "EventSourceArn": model["SourceArn"]}
            if model.get("Description") is not None:
                kwargs["Description"] = model["Description"]
            if model.get("EventPattern") is not None:
                kwargs["EventPattern"] = pattern_text(model["EventPattern"])
            if model.get("RetentionDays") is not None:
                kwargs["RetentionDays"] = int(model["RetentionDays"])
            response = request.aws_client_factory.events.create_archive(**kwargs)
            model["Arn"] = response["ArchiveArn"]
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model,
                                 custom_context=request.custom_context)

        def read(self, request):
            raise NotImplementedError

        def update(self, request):
            model = request.desired_state
            previous = request.previous_state or {}
            model.setdefault("ArchiveName", previous.get("ArchiveName"))
            kwargs: dict[str, Any] = {"ArchiveName": model["ArchiveName"]}
            if model.get("Description") is not None:
                kwargs["Description"] = model["Description"]
            if model.get("EventPattern") is not None:
                kwargs["EventPattern"] = pattern_text(model["EventPattern"])
            if model.get("RetentionDays") is not None:
                kwargs["RetentionDays"] = int(model["RetentionDays"])
            request.aws_client_factory.events.update_archive(**kwargs)
            model["Arn"] = previous.get("Arn") or request.aws_client_factory.events\
                .describe_archive(ArchiveName=model["ArchiveName"])["ArchiveArn"]
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model,
                                 custom_context=request.custom_context)

        def delete(self, request):
            model = request.desired_state
            events = request.aws_client_factory.events
            try:
                events.delete_archive(ArchiveName=model["ArchiveName"])
            except events.exceptions.ResourceNotFoundException:
                pass
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model,
                                 custom_context=request.custom_context)

    return EventsArchiveProvider


class EventsArchiveProviderPlugin(CloudFormationResourceProviderPlugin):
    """Entry point ``AWS::Events::Archive`` in ``localstack.cloudformation.resource_providers``."""

    name = "AWS::Events::Archive"

    def __init__(self):
        self.factory = None

    def load(self):
        self.factory = _archive_provider_class()
