"""AWS clients and idempotency settings shared by the handlers (created once per environment)."""

from __future__ import annotations

import os
from functools import lru_cache

import boto3
from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer,
                                                         IdempotencyConfig)

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


@lru_cache(maxsize=None)
def client(service: str):
    return boto3.client(service)


@lru_cache(maxsize=None)
def events_table():
    return boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])


@lru_cache(maxsize=None)
def persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


def idempotency_config(key: str, **kwargs) -> IdempotencyConfig:
    return IdempotencyConfig(event_key_jmespath=key,
                             expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS, **kwargs)
