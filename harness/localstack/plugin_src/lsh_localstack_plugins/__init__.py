"""LocalStack plugins of localstack-e2e-harness.

This package is copied into LocalStack's own virtualenv (never imported by the test process):
- ``dynamodb``: DynamoDB and DynamoDB Streams served by moto (LocalStack's default needs a Java
  download that is impossible offline),
- ``lambda_executor``: the ``process`` Lambda runtime executor (functions run as host processes),
- ``sns_log``: a ring buffer of every SNS topic publish, served at ``GET /_lsh/sns/published``
  (LocalStack keeps no record of them; on with ``LSH_SNS_PUBLISH_LOG=1``),
- ``changes``: a change feed, ``GET /_lsh/changes``, a line each time LocalStack has handled a
  request that changed something (waiting checks re-run at once instead of polling fast),
- ``custom_resources``: CloudFormation custom resources (``Custom::*``), which community lacks: the
  ``ServiceToken`` handler is invoked and its response PUT to a route LocalStack serves,
- ``run``: the entry point that starts LocalStack with a lifeline to its parent process.
"""
