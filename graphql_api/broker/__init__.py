"""Pub/sub of session events: in-process (embedded) or Redis (several instances)."""

from graphql_api.broker.base import EventBroker, Subscription
from graphql_api.broker.memory import InProcessBroker

__all__ = ["EventBroker", "InProcessBroker", "Subscription"]
