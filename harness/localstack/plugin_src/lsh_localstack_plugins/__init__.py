"""LocalStack plugins of localstack-e2e-harness.

This package is copied into LocalStack's own virtualenv (never imported by the test process):
- ``dynamodb``: DynamoDB and DynamoDB Streams served by moto (LocalStack's default needs a Java
  download that is impossible offline),
- ``lambda_executor``: the ``process`` Lambda runtime executor (functions run as host processes),
- ``run``: the entry point that starts LocalStack with a lifeline to its parent process.
"""
