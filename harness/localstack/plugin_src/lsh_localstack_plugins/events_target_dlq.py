"""EventBridge target dead-letter queues on LocalStack 4.8.1.

LocalStack stores a target's ``DeadLetterConfig`` but never uses it: when a rule cannot hand an
event to a target (the queue or function is gone, the call is refused) it logs
``TargetDeliveryFailure`` at INFO and the event is lost. AWS sends such an event to the target's
dead-letter queue (an SQS queue), the event as the body, with the attributes ``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE`` and ``ERROR_MESSAGE``.

:func:`apply` wraps ``TargetSender.process_event`` so that a failed delivery does that too (once:
AWS first retries errors it deems transient, per the target's ``RetryPolicy``; here the failure
goes to the queue at once; ``ERROR_CODE`` is the code of the call that failed, e.g. SQS's
``AWS.SimpleQueueService.NonExistentQueue``, where AWS may name it differently). LocalStack's own
handling (the log line, the metric) is unchanged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    return type(error).__name__


def send_to_target_dlq(sender: Any, event: Any, error: BaseException) -> bool:
    """Put ``event`` on ``sender``'s target dead-letter queue, if it has one; whether it did."""
    dlq_arn = (sender.target.get("DeadLetterConfig") or {}).get("Arn")
    if not dlq_arn:
        return False
    from localstack.aws.connect import connect_to
    from localstack.utils.aws.arns import (extract_account_id_from_arn, extract_region_from_arn,
                                           sqs_queue_url_for_arn)

    attributes = {"RULE_ARN": sender.rule_arn, "TARGET_ARN": sender.target["Arn"],
                  "ERROR_CODE": _error_code(error), "ERROR_MESSAGE": str(error)[:1000]}
    try:
        sqs = connect_to(region_name=extract_region_from_arn(dlq_arn),
                         aws_access_key_id=extract_account_id_from_arn(dlq_arn)).sqs
        sqs.send_message(
            QueueUrl=sqs_queue_url_for_arn(dlq_arn),
            MessageBody=event if isinstance(event, str) else json.dumps(event, default=str),
            MessageAttributes={k: {"DataType": "String", "StringValue": v or "-"}
                               for k, v in attributes.items()})
    except Exception as exc:  # the DLQ itself is unusable: say so, as AWS's metrics would
        log.warning("could not send an undeliverable event of rule %s to its target's "
                    "dead-letter queue %s: %s", sender.rule_arn, dlq_arn, exc)
        return False
    return True


def use_target_dead_letter_queues() -> None:
    """Wrap ``TargetSender.process_event``: a delivery that raises goes to the target's DLQ,
    then raises on as before."""
    from localstack.services.events.target import TargetSender

    if getattr(TargetSender.process_event, "_lsh_dlq", False):
        return
    original = TargetSender.process_event

    def process_event(self, event, *args, **kwargs):
        try:
            return original(self, event, *args, **kwargs)
        except Exception as error:
            send_to_target_dlq(self, event, error)
            raise

    process_event._lsh_dlq = True
    TargetSender.process_event = process_event


def apply() -> None:
    """Install the wrapper when LocalStack first loads its EventBridge targets (called from
    :func:`lsh_localstack_plugins.patches.apply_all`)."""
    from lsh_localstack_plugins.events_replay import after_import

    after_import("localstack.services.events.target", use_target_dead_letter_queues)
