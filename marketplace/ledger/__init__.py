"""Ledger: double-entry books for gold (mg Au) and money, with balances that cannot go negative."""
