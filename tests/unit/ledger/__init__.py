"""Unit tests of the ledger app (seed 004): template assertions and the functions with moto."""
