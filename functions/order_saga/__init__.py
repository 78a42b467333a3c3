"""The order saga's four services (seed 002): order, payment, inventory, notification."""
