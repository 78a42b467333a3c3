"""Patch a LocalStack module right after its first import, not at start-up.

A service's modules load only when the service is first used; importing them at start-up to
patch them would cost every run that time (Step Functions' interpreter: ~0.25 s).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Callable


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of the watched modules so that each one's
    patch runs once the module has executed."""

    def __init__(self, patches: dict[str, list[Callable[[], None]]]):
        self.patches = dict(patches)

    def find_spec(self, name, path, target=None):
        patches = self.patches.pop(name, None)
        if patches is None:
            return None
        spec = importlib.util.find_spec(name)  # our own entry is gone: the real finders answer
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_patch(module):
            exec_module(module)
            sys.modules[name] = module  # the patch imports it by name
            for patch in patches:
                patch()

        spec.loader.exec_module = exec_then_patch
        return spec


Patch = Callable[[], None]


def after_import(patches: dict[str, Patch | list[Patch]]) -> None:
    """``{module name: patch or [patches]}``: run each patch right after its module is first
    imported (at once if it already is), in the order given."""
    waiting = {}
    for name, given in patches.items():
        listed = list(given) if isinstance(given, (list, tuple)) else [given]
        if name in sys.modules:
            for patch in listed:
                patch()
        else:
            waiting[name] = listed
    if waiting:
        sys.meta_path.insert(0, _AfterImport(waiting))
