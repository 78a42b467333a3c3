"""Backend ``external``: a LocalStack someone already runs (``lsh up``, docker-compose, a CI service)."""

from __future__ import annotations

import os
import time

from harness.config import HarnessConfig
from harness.errors import LocalStackNotReachable
from harness.localstack.base import DEFAULT_REGION, Backend, LocalStack, fetch_health


def endpoint_from_env() -> str | None:
    return HarnessConfig.from_env().endpoint


class ExternalBackend(Backend):
    name = "external"

    def __init__(self, endpoint_url: str | None = None, region: str | None = None,
                 wait_seconds: float = 10.0):
        self.endpoint_url = (endpoint_url or endpoint_from_env() or "").rstrip("/")
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        self.wait_seconds = wait_seconds

    def start(self) -> LocalStack:
        if not self.endpoint_url:
            raise LocalStackNotReachable(
                "backend 'external' needs an endpoint: set LSH_ENDPOINT (or AWS_ENDPOINT_URL, or "
                "--lsh-endpoint), e.g. http://127.0.0.1:4566 from `lsh up` or docker-compose.")
        deadline = time.monotonic() + self.wait_seconds
        while (health := fetch_health(self.endpoint_url)) is None:
            if time.monotonic() > deadline:
                raise LocalStackNotReachable(
                    f"no LocalStack answers at {self.endpoint_url}/_localstack/health after "
                    f"{self.wait_seconds:.0f} s: start one (`lsh up`, `docker-compose up -d`) or fix "
                    "LSH_ENDPOINT.")
            time.sleep(0.2)
        if not isinstance(health, dict) or not isinstance(health.get("services"), dict):
            raise LocalStackNotReachable(
                f"{self.endpoint_url} answers /_localstack/health but is not LocalStack (no "
                "'services' in its answer): point LSH_ENDPOINT at a LocalStack")
        return LocalStack(self.endpoint_url, self.region, backend=self.name,
                          details={"version": health.get("version")})

    def stop(self) -> None:
        """Nothing to stop: this LocalStack belongs to someone else."""
