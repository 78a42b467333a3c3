"""The root CDK app: ``python -m infra.app`` from the repository root (``cdk.json`` there says so).

It holds the five reference apps, one stack each (``infra/<app>/``). All of them are synthesized
unless the context value ``apps`` names some (comma-separated), so each deploys alone::

    cdk synth -c apps=order_events              # the CLI
    CdkApp(REPO, context={"apps": "order_events"})   # the harness

:func:`build_app` builds it in-process, e.g. for tests::

    app = build_app(outdir="cdk.out", apps=["upload_pipeline"])
    assembly = app.synth()
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable, Iterable, Mapping

import aws_cdk as cdk

#: app name -> "module:function"; the function adds the app's stack(s) to the CDK app
APPS: dict[str, str] = {
    "upload_pipeline": "infra.upload_pipeline.stack:add_to",
    "order_events": "infra.order_events.stack:add_to",
    "ledger": "infra.ledger.stack:add_to",
    "order_routing": "infra.order_routing.stack:add_to",
    "order_saga": "infra.order_saga.stack:add_to",
}


def _builder(name: str) -> Callable[[cdk.App], Any]:
    module, func = APPS[name].split(":")
    return getattr(importlib.import_module(module), func)


def selected_apps(value: str | Iterable[str] | None) -> list[str]:
    """The apps named by the ``apps`` context value (all when empty); unknown names are an error
    that lists the known ones."""
    if value is None or value == "" or value == "all":
        return list(APPS)
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    unknown = [n for n in names if n not in APPS]
    if unknown:
        raise ValueError(f"unknown app(s) {', '.join(unknown)} in the `apps` context value; "
                         f"known: {', '.join(APPS)}")
    return names


def build_app(outdir: str | None = None, *, context: Mapping[str, Any] | None = None,
              apps: Iterable[str] | None = None) -> cdk.App:
    """The CDK app with the chosen apps' stacks, not yet synthesized.

    ``context`` adds CDK context (each app's tuning knobs, or ``{"aws:cdk:bundling-stacks": []}``
    to skip building the assets). CloudFormation's built-in template validation is off unless
    ``CDK_VALIDATION=true`` (it costs seconds).
    """
    app = cdk.App(
        outdir=outdir, context=dict(context) if context else None,
        builtin_cloud_formation_validation=os.environ.get("CDK_VALIDATION", "").lower() == "true")
    for name in selected_apps(apps if apps is not None else app.node.try_get_context("apps")):
        _builder(name)(app)
    return app


if __name__ == "__main__":
    build_app().synth()
