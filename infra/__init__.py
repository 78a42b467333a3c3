"""The reference application's infrastructure: a CDK app (``infra.app``) with one stack.

Plain AWS CDK, deployable to AWS unchanged; nothing in here knows about LocalStack.
"""
