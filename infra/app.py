"""The CDK app: ``python -m infra.app`` from the repository root (``cdk.json`` there says so).

:func:`build_app` builds it in-process, e.g. for tests or a deployer that synthesizes itself::

    app = build_app(outdir="cdk.out")     # or build_app(), writing where CDK_OUTDIR says
    assembly = app.synth()                # stack "LshPipeline"
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import aws_cdk as cdk

from infra.pipeline_stack import STACK_NAME, PipelineStack


def build_app(outdir: str | None = None, *, context: Mapping[str, Any] | None = None,
              stack_name: str = STACK_NAME) -> cdk.App:
    """The app with its one stack, :class:`PipelineStack`, not yet synthesized.

    ``context`` adds CDK context (the tuning knobs of :class:`~infra.pipeline_stack.PipelineTuning`,
    or ``{"aws:cdk:bundling-stacks": []}`` to skip building the assets). CloudFormation's
    built-in template validation is off unless ``CDK_VALIDATION=true`` (it costs seconds).
    """
    app = cdk.App(
        outdir=outdir, context=dict(context) if context else None,
        builtin_cloud_formation_validation=os.environ.get("CDK_VALIDATION", "").lower() == "true")
    PipelineStack(app, stack_name,
                  # no BootstrapVersion parameter/rule: the template deploys through the CDK CLI
                  # and through plain CloudFormation alike (updates keep no stale parameters)
                  synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
                  description="Event pipeline: S3/API/EventBridge -> SNS -> SQS -> Lambda -> "
                              "DynamoDB -> confirmation -> notifications")
    return app


if __name__ == "__main__":
    build_app().synth()
