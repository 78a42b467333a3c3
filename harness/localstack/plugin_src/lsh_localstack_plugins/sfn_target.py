"""EventBridge → Step Functions targets with ``InputPath``, ``InputTransformer`` or ``Input``.

LocalStack 4.8.1's Step Functions target names each execution after the event's ``id``
(``StartExecution(name=event["id"])``) *after* the target's input was applied, so a target that
passes only ``$.detail`` (or a template, or constant input) fails with "Failed to deliver to
target ...: 'id'" and no execution starts. AWS starts the execution with a generated name. Here
the name is the event's id when the input still has one (LocalStack's behaviour), else a UUID.
"""

from __future__ import annotations

import uuid

from lsh_localstack_plugins.after_import import after_import

_TARGET = "localstack.services.events.target"


def name_executions_without_event_id() -> None:
    from localstack.services.events import target

    def send_event(self, event, trace_header):
        self.service = "stepfunctions"
        name = event.get("id") if isinstance(event, dict) else None
        self.client.start_execution(stateMachineArn=self.target["Arn"],
                                    name=name or str(uuid.uuid4()), input=target.to_json_str(event))

    target.StatesTargetSender.send_event = send_event


def install() -> None:
    after_import({_TARGET: name_executions_without_event_id})
