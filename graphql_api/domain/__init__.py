"""The rules: ownership, status transitions, sequencing. No GraphQL, no SQL strings."""
