"""The Mutation root, one module per concept (sessions, turns, approvals, keys, webhooks)."""
