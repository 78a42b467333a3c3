"""The order-events app's functions: ``publisher`` (puts an order event on the bus) and
``processor`` (stores the orders the rule routes to it)."""
