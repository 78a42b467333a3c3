"""Lambda runtimes newer than LocalStack 4.8.1: accepted at CreateFunction, UpdateFunctionConfiguration
and in layers' CompatibleRuntimes.

4.8.1's runtime list stops at ``python3.13`` and ``nodejs22.x``; CreateFunction rejects
``python3.14`` (the default of AWS's current CDK samples) and ``nodejs24.x`` (what aws-cdk-lib's
own custom-resource handlers use) with "Value ... at 'runtime' failed to satisfy constraint". The
provider and ``api_utils`` check membership in ``runtimes.ALL_RUNTIMES`` (one list object they
imported), so adding to that list in place is seen by both; their error texts
(``VALID_RUNTIMES``) are updated too. The ``process`` executor then runs these functions on the
machine's interpreter and says so once per function (see docs/node-functions.md).
"""

from __future__ import annotations

import sys

#: runtime -> (language group, image tag LocalStack's docker executor would use)
CURRENT_RUNTIMES = {
    "python3.14": ("python", "python:3.14"),
    "nodejs24.x": ("nodejs", "nodejs:24"),
}


def _with_runtimes(valid: str, names: list[str]) -> str:
    """``"[a, b]"`` (LocalStack's error-text list) with ``names`` added."""
    items = [item.strip() for item in valid.strip("[]").split(",") if item.strip()]
    return "[" + ", ".join(items + [n for n in names if n not in items]) + "]"


def accept_current_runtimes() -> None:
    """Make LocalStack's Lambda provider accept :data:`CURRENT_RUNTIMES` (idempotent)."""
    from localstack.services.lambda_ import runtimes

    for name, (group, image) in CURRENT_RUNTIMES.items():
        if name not in runtimes.ALL_RUNTIMES:
            runtimes.ALL_RUNTIMES.append(name)
        if name not in runtimes.SUPPORTED_RUNTIMES:
            runtimes.SUPPORTED_RUNTIMES.append(name)
        runtimes.IMAGE_MAPPING.setdefault(name, image)
        group_list = runtimes.RUNTIMES_AGGREGATED.setdefault(group, [])
        if name not in group_list:
            group_list.insert(0, name)
        if name not in runtimes.TESTED_RUNTIMES:
            runtimes.TESTED_RUNTIMES.append(name)
    valid = _with_runtimes(runtimes.VALID_RUNTIMES, list(CURRENT_RUNTIMES))
    # modules that imported the error text by name (only those already loaded: a later import
    # reads the updated attribute of ``runtimes``)
    runtimes.VALID_RUNTIMES = valid
    for module_name in ("localstack.services.lambda_.provider", "localstack.services.lambda_.api_utils"):
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, "VALID_RUNTIMES"):
            module.VALID_RUNTIMES = valid
