"""Step Functions Lambda tasks: errors of the Lambda service keep their AWS names.

On AWS a Task whose Lambda call is refused by the Lambda service fails with
``Lambda.<error code>`` (``Lambda.TooManyRequestsException`` when throttled,
``Lambda.ServiceException``, ...), which is what a state machine's ``Retry`` for transient Lambda
errors names. LocalStack 4.8.1 names every such ``ClientError`` ``Exception``
(``StateTaskLambda._from_error``), so those retriers never fire and a throttled task fails at once.

:func:`apply` keeps LocalStack's failure event and only renames the error to ``Lambda.<code>``
(in the history event and for ``Retry``/``Catch``), for the direct-ARN Lambda task. Errors the
function itself raised (``errorType``), timeouts and everything else are unchanged.
"""

from __future__ import annotations

_MODULE = ("localstack.services.stepfunctions.asl.component.state.state_execution.state_task."
           "state_task_lambda")


def name_lambda_service_errors() -> None:
    from botocore.exceptions import ClientError
    from localstack.services.stepfunctions.asl.component.common.error_name.custom_error_name \
        import CustomErrorName
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task \
        import state_task_lambda

    cls = state_task_lambda.StateTaskLambda
    if getattr(cls, "_lsh_lambda_error_names", False):
        return
    from_error = cls._from_error

    def _from_error(self, env, ex):
        failure = from_error(self, env, ex)
        if not isinstance(ex, ClientError):
            return failure
        name = f"Lambda.{ex.response.get('Error', {}).get('Code') or 'ServiceException'}"
        failure.error_name = CustomErrorName(name)
        details = getattr(failure.event_details, "get", lambda _: None)(
            "lambdaFunctionFailedEventDetails")
        if details is not None:
            details["error"] = name
        return failure

    cls._from_error = _from_error
    cls._lsh_lambda_error_names = True


def apply() -> None:
    """Patch when Step Functions' Lambda task module is first imported (not at start-up)."""
    from lsh_localstack_plugins.after_import import after_import

    after_import({_MODULE: name_lambda_service_errors})
