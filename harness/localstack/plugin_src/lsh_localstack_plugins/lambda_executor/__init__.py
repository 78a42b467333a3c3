"""The ``process`` Lambda runtime executor: each execution environment is a host process.

- ``plugin``: the plux plugin (entry point ``localstack.lambda.runtime_executor`` / ``process``),
- ``executor``: ``ProcessRuntimeExecutor``, the ``RuntimeExecutor`` LocalStack drives,
- ``bridge``: the environment process itself (stdlib only, run by the function's Python),
- ``node_runtime.js``: the runtime interface client of nodejs functions (run by the bridge on node),
- ``node_sdk``: the cached AWS SDK for JavaScript v3 on nodejs functions' ``NODE_PATH``.
"""
