"""The notification processor: each ``Notification Sent`` event is published to the notification
topic (its detail as the message, JSON). A detail without ``notification_id`` or ``message``
fails the invocation, so the on-failure destination keeps it with the reason."""

from __future__ import annotations

import json
import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.order_routing.common.aws import client
from functions.order_routing.common.events import InvalidEvent, kind_of, parse
from functions.order_routing.common.models import NotificationSent

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    if kind_of(event) != "eventbridge" or event["detail-type"] != "Notification Sent":
        raise InvalidEvent(f"the notification processor handles Notification Sent events only, "
                           f"not {str(event)[:200]!r}")
    logger.append_keys(event_id=event.get("id"))
    notification = parse(NotificationSent, event.get("detail"), "Notification Sent event")
    message_id = client("sns").publish(
        TopicArn=os.environ["NOTIFICATION_TOPIC_ARN"],
        Message=json.dumps(notification.model_dump(mode="json"), ensure_ascii=False))["MessageId"]
    logger.info("notification published", extra={
        "notification_id": notification.notification_id, "sns_message_id": message_id})
    return {"notification_id": notification.notification_id, "sns_message_id": message_id}
