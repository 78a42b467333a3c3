"""Deploy a CDK app into LocalStack: synthesize it, upload its assets, create or update its stacks.

The fast path (no CDK CLI): the app is synthesized by running its own ``app`` command from
``cdk.json`` (as the CDK CLI would), its file assets are uploaded to the bootstrap bucket with
boto3, and each stack is created or updated with CloudFormation. ``cdklocal`` deploys the same app
too (see :mod:`harness.deploy.cdklocal`).
"""

from harness.deploy.cloudformation import DeployError, DeployedStack, deploy_stack
from harness.deploy.deployer import CdkApp, deploy_app

__all__ = ["CdkApp", "DeployError", "DeployedStack", "deploy_app", "deploy_stack"]
