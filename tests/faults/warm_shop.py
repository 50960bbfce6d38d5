"""Loaded once by the fork server of ``test_killed_workers``: building a throwaway app imports
all of the shop's code, so the worker processes forked from the server start at once."""

from marketplace import create_app

create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "warm-up"})
