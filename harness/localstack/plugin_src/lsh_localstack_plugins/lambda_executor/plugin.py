"""plux plugin: the ``process`` Lambda runtime executor (``LAMBDA_RUNTIME_EXECUTOR=process``)."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "process"

    def load(self, *args, **kwargs):
        from lsh_localstack_plugins.lambda_executor.executor import ProcessRuntimeExecutor
        from lsh_localstack_plugins.runtimes import accept_current_runtimes

        # the Lambda provider loads its executor in on_after_init, before serving any request:
        # python3.14 / nodejs24.x are accepted from the first CreateFunction on
        accept_current_runtimes()
        return ProcessRuntimeExecutor
