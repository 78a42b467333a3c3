"""The ``process`` Lambda runtime executor: each execution environment is a host process.

- ``plugin``: the plux plugin (entry point ``localstack.lambda.runtime_executor`` / ``process``),
- ``executor``: ``ProcessRuntimeExecutor``, the ``RuntimeExecutor`` LocalStack drives,
- ``bridge``: the environment process itself (stdlib only, run by the function's Python).
"""
