"""The reference applications' infrastructure: one CDK app (``infra.app``), one stack per app in
``infra/<app>/``, shared constructs (the pip-built dependency layer) in ``infra/common/``.

Plain AWS CDK, deployable to AWS unchanged; nothing in here knows about LocalStack.
"""
