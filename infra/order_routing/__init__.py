"""The order-routing app (seed 001): a custom EventBridge bus routing order, inventory,
notification and workflow events to their processors (see :mod:`infra.order_routing.stack`)."""
