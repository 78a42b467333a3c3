"""A CloudFormation resource provider for ``AWS::CloudWatch::Dashboard``.

LocalStack 4.8.1 community has CloudWatch's ``PutDashboard``/``GetDashboard``/``DeleteDashboards``
but no resource provider for the dashboard resource: a stack holding one reports CREATE_COMPLETE
with the dashboard skipped. This provider creates, updates and deletes it through the CloudWatch
API, as CloudFormation does on AWS (``Ref`` is the dashboard's name; a name is generated from the
stack and logical id when the template gives none).
"""

from __future__ import annotations

import functools
from typing import Any

RESOURCE_TYPE = "AWS::CloudWatch::Dashboard"


class DashboardProvider:
    SCHEMA = {
        "typeName": RESOURCE_TYPE,
        "primaryIdentifier": ["/properties/DashboardName"],
        "createOnlyProperties": ["/properties/DashboardName"],
        "required": ["DashboardBody"],
        "properties": {"DashboardName": {"type": "string"}, "DashboardBody": {"type": "string"}},
    }

    def create(self, request: Any) -> Any:
        from localstack.services.cloudformation import provider_utils as util

        model = dict(request.desired_state or {})
        if not model.get("DashboardName"):
            model["DashboardName"] = util.generate_default_name(
                stack_name=request.stack_name, logical_resource_id=request.logical_resource_id)
        return self._put(request, model)

    def update(self, request: Any) -> Any:
        model = dict(request.desired_state or {})
        model.setdefault("DashboardName", (request.previous_state or {}).get("DashboardName"))
        return self._put(request, model)

    def delete(self, request: Any) -> Any:
        from localstack.services.cloudformation.resource_provider import (
            OperationStatus, ProgressEvent)

        model = dict(request.previous_state or request.desired_state or {})
        if model.get("DashboardName"):
            cloudwatch = request.aws_client_factory.cloudwatch
            try:
                cloudwatch.delete_dashboards(DashboardNames=[model["DashboardName"]])
            except Exception as exc:  # already gone is fine (DashboardNotFoundError / ...)
                if "NotFound" not in f"{type(exc).__name__} {exc}":
                    raise
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})

    def read(self, request: Any) -> Any:
        raise NotImplementedError

    def list(self, request: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def _put(request: Any, model: dict) -> Any:
        from localstack.services.cloudformation.resource_provider import (
            OperationStatus, ProgressEvent)

        response = request.aws_client_factory.cloudwatch.put_dashboard(
            DashboardName=model["DashboardName"], DashboardBody=model["DashboardBody"])
        problems = response.get("DashboardValidationMessages") or []
        if problems:
            return ProgressEvent(status=OperationStatus.FAILED, resource_model=model, message=(
                f"dashboard {model['DashboardName']}: "
                + "; ".join(f"{p.get('DataPath', '')}: {p.get('Message', '')}" for p in problems)))
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model,
                             custom_context=request.custom_context)


@functools.cache
def _provider_plugin_class() -> type:
    from localstack.services.cloudformation.resource_provider import (
        CloudFormationResourceProviderPlugin)

    class DashboardProviderPlugin(CloudFormationResourceProviderPlugin):
        name = RESOURCE_TYPE

        def __init__(self) -> None:
            self.factory: type | None = None

        def load(self) -> None:
            self.factory = DashboardProvider

    return DashboardProviderPlugin


def __getattr__(attr: str) -> Any:
    # the entry point names this class; built on first use so that importing this module does
    # not import LocalStack
    if attr == "DashboardProviderPlugin":
        return _provider_plugin_class()
    raise AttributeError(attr)
