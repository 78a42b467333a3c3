"""What the order-routing functions share: the event and message models, AWS clients."""
