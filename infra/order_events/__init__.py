"""The order-events app (seed 000): publisher Lambda -> EventBridge rule -> processor Lambda ->
DynamoDB table with a GSI by event type and time."""
