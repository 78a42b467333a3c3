"""The root CDK app (infra/app.py): which reference apps it synthesizes."""

from __future__ import annotations

import pytest


from infra.app import APPS, selected_apps  # noqa: E402


def test_every_app_by_default_and_a_subset_by_name():
    assert selected_apps(None) == list(APPS) == selected_apps("") == selected_apps("all")
    assert selected_apps("upload_pipeline") == ["upload_pipeline"]
    assert selected_apps(" upload_pipeline ") == ["upload_pipeline"]


def test_an_unknown_app_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown app.*nope.*known: upload_pipeline"):
        selected_apps("upload_pipeline,nope")
