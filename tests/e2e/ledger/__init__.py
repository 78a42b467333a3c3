"""End-to-end tests of the ledger app (seed 004)."""
