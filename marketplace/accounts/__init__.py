"""Accounts: users, roles, sign-in, password reset, and who may do what."""
