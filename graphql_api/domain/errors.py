"""Errors are values with codes; the API edge maps them to GraphQL errors once."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    TURN_IN_PROGRESS = "TURN_IN_PROGRESS"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    BROKER_UNAVAILABLE = "BROKER_UNAVAILABLE"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL = "INTERNAL"


class DomainError(Exception):
    """An expected failure a client can act on; `extensions` travel to the client."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class BadUserInput(DomainError):
    """Carries the offending input field so a form can show the error beside it."""

    code = ErrorCode.BAD_USER_INPUT

    def __init__(self, message: str, *, field: str | None = None, **extensions: Any) -> None:
        if field is not None:
            extensions["field"] = field
        super().__init__(message, **extensions)


class TurnInProgress(DomainError):
    code = ErrorCode.TURN_IN_PROGRESS


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED


class QueryTooComplex(DomainError):
    code = ErrorCode.QUERY_TOO_COMPLEX


class ShuttingDown(DomainError):
    code = ErrorCode.SHUTTING_DOWN


class SlowConsumer(DomainError):
    """A subscriber fell too far behind; `lastSequence` says where to resume from."""

    code = ErrorCode.SLOW_CONSUMER


class BrokerUnavailable(DomainError):
    """The event broker (Redis) cannot be reached; live streams end and resume once it is back."""

    code = ErrorCode.BROKER_UNAVAILABLE


class ServiceUnavailable(DomainError):
    """A dependency the request needs (the database) cannot be reached right now; nothing was
    wrong with the request, so the same request may be sent again shortly (`retryAfter`)."""

    code = ErrorCode.SERVICE_UNAVAILABLE


class DatabaseUnavailable(ServiceUnavailable):
    """The database did not answer, or the connection broke mid-statement (a restart)."""

    def __init__(self, message: str = "the database is unavailable; retry shortly") -> None:
        super().__init__(message, dependency="database", retryAfter=1)
