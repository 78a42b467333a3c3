"""plux plugin: the ``process`` Lambda runtime executor (``LAMBDA_RUNTIME_EXECUTOR=process``)."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "process"

    def load(self, *args, **kwargs):
        from lsh_localstack_plugins.lambda_executor.executor import ProcessRuntimeExecutor

        return ProcessRuntimeExecutor
