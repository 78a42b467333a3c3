"""AWS clients and tables, created once per execution environment."""

from __future__ import annotations

import os
from functools import lru_cache

import boto3


@lru_cache(maxsize=None)
def client(service: str):
    return boto3.client(service)


@lru_cache(maxsize=None)
def table(env_var: str):
    """The DynamoDB table named by the environment variable ``env_var``, as a boto3 resource."""
    return boto3.resource("dynamodb").Table(os.environ[env_var])
