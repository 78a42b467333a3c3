"""Harness settings: command-line option, else environment variable, else default."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class HarnessConfig:
    backend: str = "embedded"
    endpoint: str | None = None
    port: int | None = None
    startup_timeout: float = 60.0
    #: image for the testcontainers backend (default: this project's, built locally)
    image: str | None = None
    #: waiting checks are woken by LocalStack's change feed (``LSH_CHANGE_FEED=0``: poll only)
    change_feed: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> "HarnessConfig":
        port = os.environ.get("LSH_PORT")
        config = cls(
            backend=os.environ.get("LSH_BACKEND") or "embedded",
            endpoint=os.environ.get("LSH_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL"),
            port=int(port) if port else None,
            startup_timeout=float(os.environ.get("LSH_STARTUP_TIMEOUT") or 60),
            image=os.environ.get("LSH_IMAGE") or None,
            change_feed=os.environ.get("LSH_CHANGE_FEED", "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(config, key, value)
        return config

    def backend_options(self) -> dict[str, object]:
        """Constructor arguments for the chosen backend."""
        if self.backend == "external":
            return {"endpoint_url": self.endpoint}
        if self.backend == "embedded":
            return {"port": self.port, "startup_timeout": self.startup_timeout}
        if self.backend == "testcontainers":
            return {"port": self.port, "startup_timeout": self.startup_timeout,
                    "image": self.image}
        return {}
