"""Benchmarks (issue #6): one suite a command, `python -m bench <name>`.

Every suite creates its own PostgreSQL database, starts real server processes, measures its
baseline in the same run, prints a table and the machine it ran on, and drops the database.
"""
