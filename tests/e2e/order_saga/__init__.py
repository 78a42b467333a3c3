"""End-to-end tests of the order saga (seed 002)."""
