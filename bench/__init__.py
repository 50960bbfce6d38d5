"""The benchmark kit: a bulk seed, the floor app, locust users and the scripts that run them.

Benchmarks print figures; they are scripts, not tests. See docs/benchmarks.md.
"""
