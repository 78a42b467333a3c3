"""The ledger app's functions: event-sourced bank accounts (seed 004).

``command_handler`` validates a command against the account's events and appends the next one
(conditional write) and publishes it to the bus; ``projection_handler`` folds new events (from the
event store's stream, or replayed from the bus's archive) into the read model, idempotently;
``query_handler`` answers ``reconstructState`` (fold of the event store) and ``getReadModel``.
"""
