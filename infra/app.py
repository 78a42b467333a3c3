"""The CDK app: ``python -m infra.app`` (see ``cdk.json`` at the repository root)."""

from __future__ import annotations

import aws_cdk as cdk

from infra.pipeline_stack import PipelineStack, PipelineTuning


def build_app(outdir: str | None = None) -> cdk.App:
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    PipelineStack(app, "LshPipeline", tuning=PipelineTuning.from_context(app.node))
    return app


if __name__ == "__main__":
    build_app().synth()
