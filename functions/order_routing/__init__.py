"""The order-routing app's functions (seed 001): ``order_processor``, ``inventory_processor``,
``notification_processor``; shared pieces in ``common``."""
