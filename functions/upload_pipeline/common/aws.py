"""AWS clients and the idempotency store shared by the handlers (created once per environment)."""

from __future__ import annotations

import os
from functools import lru_cache

import boto3
from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer,
                                                         IdempotencyConfig)

#: How long a completed call is remembered: a duplicate delivered within it is a no-op.
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


@lru_cache(maxsize=None)
def client(service: str):
    return boto3.client(service)


@lru_cache(maxsize=None)
def events_table():
    """The events table (``EVENTS_TABLE``), as a boto3 resource."""
    return boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])


def persistence() -> DynamoDBPersistenceLayer:
    """Powertools' idempotency store, in the table named by ``IDEMPOTENCY_TABLE``.

    A new one per idempotent function: a store takes the configuration (key expression) of the
    first function that uses it and keeps it.
    """
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"],
                                    boto3_client=client("dynamodb"))


def idempotency_config(key_jmespath: str, **kwargs) -> IdempotencyConfig:
    return IdempotencyConfig(event_key_jmespath=key_jmespath,
                             expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS, **kwargs)
