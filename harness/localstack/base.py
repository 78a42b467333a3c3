"""What every backend gives tests: a running LocalStack, as a :class:`LocalStack` handle."""

from __future__ import annotations

import abc
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

DEFAULT_REGION = "us-east-1"
TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def fetch_health(endpoint_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """LocalStack's ``/_localstack/health`` document, or None when it does not answer (yet)."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_localstack/health", timeout=timeout) as resp:
            if resp.status != 200:
                return None
            return json.loads(resp.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return None


@dataclass
class LocalStack:
    """A running LocalStack: where it is, and boto3 clients wired to it.

    >>> sqs = localstack.client("sqs")          # doctest: +SKIP
    >>> sqs.create_queue(QueueName="orders")    # doctest: +SKIP
    """

    endpoint_url: str
    region: str = DEFAULT_REGION
    backend: str = "external"
    details: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def session(self):
        import boto3

        return boto3.session.Session(region_name=self.region, **TEST_CREDENTIALS)

    def client(self, service_name: str, **kwargs: Any):
        """A boto3 client for ``service_name`` that talks to this LocalStack."""
        from botocore.config import Config

        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", Config(retries={"max_attempts": 2, "mode": "standard"},
                                           connect_timeout=5, read_timeout=65))
        return self.session.client(service_name, **kwargs)

    def resource(self, service_name: str, **kwargs: Any):
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return self.session.resource(service_name, **kwargs)

    def health(self) -> dict[str, Any] | None:
        return fetch_health(self.endpoint_url)

    def env(self) -> dict[str, str]:
        """Environment variables that point the AWS CLI, SDKs and CDK tools at this LocalStack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
        }


class Backend(abc.ABC):
    """A way to get a LocalStack: start it (or find it), hand out the handle, stop it.

    Backends are context managers; ``stop`` is idempotent and always safe to call.
    """

    name: str = "backend"

    @abc.abstractmethod
    def start(self) -> LocalStack: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
