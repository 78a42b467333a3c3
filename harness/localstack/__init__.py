"""Backends that give tests a running LocalStack: ``embedded`` (default), ``external`` and
``testcontainers`` (LocalStack in Docker, from an image built locally)."""

from __future__ import annotations

from typing import Any

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.localstack.base import Backend, LocalStack
from harness.localstack.embedded import EmbeddedBackend
from harness.localstack.external import ExternalBackend
from harness.localstack.containers.container_backend import TestcontainersBackend

BACKENDS: dict[str, type[Backend]] = {
    "embedded": EmbeddedBackend,
    "external": ExternalBackend,
    "testcontainers": TestcontainersBackend,
}


def create_backend(name: str | None = None, **options: Any) -> Backend:
    """The backend called ``name`` (default: ``$LSH_BACKEND`` or ``embedded``)."""
    name = (name or HarnessConfig.from_env().backend).strip().lower()
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise HarnessError(
            f"unknown LocalStack backend {name!r}: choose one of {', '.join(sorted(BACKENDS))} "
            "(--lsh-backend / LSH_BACKEND)") from None
    return cls(**options)


__all__ = ["Backend", "LocalStack", "EmbeddedBackend", "ExternalBackend", "TestcontainersBackend",
           "create_backend"]
