"""The order saga reference app (seed 002)."""
