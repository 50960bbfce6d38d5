"""Domain core: pure rules, no Flask, no SQLAlchemy."""
