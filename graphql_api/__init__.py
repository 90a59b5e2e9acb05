"""A GraphQL API server for running Claude agent sessions."""

__version__ = "0.1.0"
