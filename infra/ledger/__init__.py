"""The ledger app: event-sourced bank accounts (seed 004), see :mod:`infra.ledger.stack`."""
