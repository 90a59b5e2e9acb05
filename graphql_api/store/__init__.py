"""Persistence: SQLModel tables and repositories. Knows SQL, never GraphQL."""
