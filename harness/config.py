"""Harness settings, all read here: command-line option, else environment variable, else default.

Every ``LSH_*`` setting (and ``AWS_ENDPOINT_URL``) of the harness's own process is read by
:meth:`HarnessConfig.from_env`; a bad value is one :class:`~harness.errors.SettingError` line
naming the setting and the fix. (LocalStack's plugins, in LocalStack's own process, read their
own ``LSH_*`` settings there.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from harness.errors import SettingError

BACKEND_NAMES = ("embedded", "external", "testcontainers")
_OFF = ("0", "false", "no", "off")
#: the ``LSH_*`` variables read by the harness's own process (here and by the CDK apps' build),
#: not by LocalStack's plugins: they do not change what a LocalStack runs with
HARNESS_VARS = frozenset({
    "LSH_BACKEND", "LSH_ENDPOINT", "LSH_PORT", "LSH_STARTUP_TIMEOUT", "LSH_IMAGE", "LSH_REUSE_UP",
    "LSH_CHANGE_FEED", "LSH_CDK_APP", "LSH_FUZZ_EXAMPLES", "LSH_STATEFUL_STEPS", "LSH_CACHE_DIR",
    "LSH_PYTHON", "LSH_DEBIAN_MIRROR", "LSH_LAYER_BUILD_DIR", "LSH_EARLY_START"})


def _port(name: str, raw: str | int | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        port = int(str(raw).strip())
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise SettingError(f"{name}={raw!r} is not a port number: use 1-65535, or leave it unset "
                           "for a free port")
    return port


def _positive(name: str, raw: str | float | None, default: float, kind: type = float):
    if raw is None or raw == "":
        return default
    try:
        value = kind(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not value > 0:
        what = "a whole number" if kind is int else "a number of seconds"
        raise SettingError(f"{name}={raw!r} is not {what} above 0: e.g. {name}={kind(default)}")
    return value


def _endpoint(name: str, raw: str | None) -> str | None:
    if not raw:
        return None
    raw = raw.strip()
    if not raw.startswith(("http://", "https://")) or len(raw.split("://", 1)[1]) == 0:
        raise SettingError(f"{name}={raw!r} is not an http(s) URL: e.g. {name}=http://127.0.0.1:4566")
    return raw.rstrip("/")


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
    #: pytest reuses the LocalStack of a running ``lsh up`` that runs what the session would start
    #: (``harness.up_state``); ``LSH_REUSE_UP=0`` or ``--lsh-fresh``: always start a fresh one
    reuse_up: bool = True
    #: pytest starts the embedded LocalStack at session start, while it collects, when the
    #: conftest fixtures of the given paths use it (``LSH_EARLY_START=0``: at the first test)
    early_start: bool = True
    #: folder holding the cdk.json of the app the ``cdk_app`` fixture deploys (``LSH_CDK_APP``)
    cdk_app: str | None = None
    #: examples per property-based test of the ``lsh-fuzz`` Hypothesis profile
    fuzz_examples: int = 5
    #: steps per example of a stateful test (``harness.stateful``; ``LSH_STATEFUL_STEPS``)
    stateful_steps: int = 10
    #: where the cached venvs live (``LSH_CACHE_DIR``; default ``$XDG_CACHE_HOME/...``)
    cache_dir: Path | None = None
    #: a Python 3.11 to build LocalStack's venv from (``LSH_PYTHON``)
    python: str | None = None
    #: Debian mirror the container image's root file system comes from (``LSH_DEBIAN_MIRROR``)
    debian_mirror: str = "http://deb.debian.org/debian"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 **overrides: object) -> "HarnessConfig":
        """Settings from ``environ`` (default ``os.environ``), then ``overrides`` that are not None.

        Raises :class:`~harness.errors.SettingError` for a bad value."""
        env = os.environ if environ is None else environ
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")

        def pick(key: str, var: str, *more: str):
            if key in given:
                return given[key], f"--lsh-{key.replace('_', '-')}"
            for name in (var, *more):
                if env.get(name):
                    return env[name], name
            return None, var

        backend, backend_name = pick("backend", "LSH_BACKEND")
        backend = str(backend or "embedded").strip().lower()
        if backend not in BACKEND_NAMES:
            raise SettingError(f"{backend_name}={backend!r} is not a backend: choose one of "
                               f"{', '.join(BACKEND_NAMES)}")
        cache_dir, _ = pick("cache_dir", "LSH_CACHE_DIR")
        return cls(
            backend=backend,
            endpoint=_endpoint(*reversed(pick("endpoint", "LSH_ENDPOINT", "AWS_ENDPOINT_URL"))),
            port=_port(*reversed(pick("port", "LSH_PORT"))),
            startup_timeout=_positive(*reversed(pick("startup_timeout", "LSH_STARTUP_TIMEOUT")),
                                      default=60.0),
            image=pick("image", "LSH_IMAGE")[0] or None,
            reuse_up=given.get("reuse_up",
                               env.get("LSH_REUSE_UP", "1").strip().lower() not in _OFF),
            early_start=given.get("early_start",
                                  env.get("LSH_EARLY_START", "1").strip().lower() not in _OFF),
            change_feed=given.get("change_feed",
                                  env.get("LSH_CHANGE_FEED", "1").strip().lower() not in _OFF),
            cdk_app=pick("cdk_app", "LSH_CDK_APP")[0] or None,
            fuzz_examples=_positive(*reversed(pick("fuzz_examples", "LSH_FUZZ_EXAMPLES")),
                                    default=5, kind=int),
            stateful_steps=_positive(*reversed(pick("stateful_steps", "LSH_STATEFUL_STEPS")),
                                     default=10, kind=int),
            cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
            python=pick("python", "LSH_PYTHON")[0] or None,
            debian_mirror=pick("debian_mirror", "LSH_DEBIAN_MIRROR")[0] or cls.debian_mirror,
        )

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
