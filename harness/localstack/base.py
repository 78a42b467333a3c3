"""What every backend gives tests: a running LocalStack, as a :class:`LocalStack` handle."""

from __future__ import annotations

import abc
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

from harness.errors import LocalStackDied

DEFAULT_REGION = "us-east-1"
TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
#: botocore settings read from the user's environment and files that the harness's clients
#: ignore: no profile (``AWS_PROFILE=nosuch`` would fail every call), no config or credentials
#: file (their values must not reach LocalStack, nor change how the harness talks to it)
_IGNORED_SESSION_VARS = {
    "profile": (None, None, None, None),
    "config_file": (None, None, os.devnull, None),
    "credentials_file": (None, None, os.devnull, None),
}


def harness_session(region: str):
    """A boto3 session with the test credentials that ignores the user's AWS profile and files."""
    import boto3
    import botocore.session

    core = botocore.session.Session(session_vars=_IGNORED_SESSION_VARS)
    return boto3.session.Session(botocore_session=core, region_name=region, **TEST_CREDENTIALS)


def client_config():
    """Retries, timeouts: the same for every client and resource of the harness."""
    from botocore.config import Config

    return Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                  read_timeout=65)


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
    #: the backend's death check: the error to raise once this LocalStack has exited, else None
    death: Callable[[], LocalStackDied | None] | None = field(default=None, repr=False,
                                                             compare=False)
    #: the pid of the running ``lsh up`` whose LocalStack a pytest session reused, else None
    reused_up: int | None = field(default=None, compare=False)

    @cached_property
    def session(self):
        return harness_session(self.region)

    def check_alive(self) -> None:
        """Raise :class:`~harness.errors.LocalStackDied` (how and when, the log) if it exited."""
        error = self.death() if self.death is not None else None
        if error is not None:
            raise error

    def _watch(self, client):
        # before every attempt (retries too): a dead LocalStack fails the call at once, with why
        client.meta.events.register("before-send", lambda **_: self.check_alive())
        return client

    def client(self, service_name: str, **kwargs: Any):
        """A boto3 client for ``service_name`` that talks to this LocalStack."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", client_config())
        return self._watch(self.session.client(service_name, **kwargs))

    def resource(self, service_name: str, **kwargs: Any):
        """A boto3 resource for ``service_name``, with the same retries and checks as clients."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", client_config())
        resource = self.session.resource(service_name, **kwargs)
        self._watch(resource.meta.client)
        return resource

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
