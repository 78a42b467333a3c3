"""Unit tests of the order saga (seed 002): its CDK stack and its handlers."""
