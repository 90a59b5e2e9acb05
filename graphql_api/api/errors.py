"""The one place errors become GraphQL errors: every error leaves with `extensions.code`.

Domain errors keep their message and extensions. Anything unexpected becomes INTERNAL with
no exception text, only a request id that the log line carries too. A dependency that is away
(the database restarting) is SERVICE_UNAVAILABLE with `dependency`, `retryAfter` and the
request id: the request was fine, the same request may be sent again shortly. Strawberry hands every
error list (parse, validation, execution) to `Schema.process_errors`, so that is the hook.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from graphql_api.api.operation_observer import http_response_headers
from graphql_api.api.query_shape import token_limit_extensions
from graphql_api.domain.errors import (
    DatabaseUnavailable,
    DomainError,
    ErrorCode,
    ServiceUnavailable,
)
from graphql_api.store.database import is_unavailable

log = logging.getLogger("graphql_api.errors")


def assign_code(error: GraphQLError, request_id: str) -> None:
    """Rewrite one error in place into what the client may see."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if original is not None and not isinstance(original, DomainError) and is_unavailable(original):
        original = DatabaseUnavailable()  # raised past the Database boundary: same answer
    if isinstance(original, ServiceUnavailable):
        log.warning(
            "%s in %s (request %s)",
            original.message,
            ".".join(map(str, error.path or [])) or "operation",
            request_id,
        )
        error.message = original.message
        error.extensions = {
            "code": original.code.value, **original.extensions, "requestId": request_id,
        }  # fmt: skip
    elif isinstance(original, DomainError):
        error.message = original.message
        error.extensions = {"code": original.code.value, **original.extensions}
    elif original is None or isinstance(original, GraphQLError):
        # Raised by graphql-core itself: syntax, validation, variable coercion.
        extensions = dict(error.extensions or {})
        extensions.update(token_limit_extensions(error.message))
        extensions.setdefault("code", _graphql_code(error))
        error.extensions = extensions
    else:
        log.error(
            "internal error in %s (request %s)",
            ".".join(map(str, error.path or [])) or "operation",
            request_id,
            exc_info=original,
        )
        error.message = f"Internal server error (request id {request_id})"
        error.extensions = {"code": ErrorCode.INTERNAL.value, "requestId": request_id}
    error.original_error = None


def _graphql_code(error: GraphQLError) -> str:
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '"):
        return ErrorCode.BAD_USER_INPUT.value
    if error.path is None and error.nodes:
        return "GRAPHQL_VALIDATION_FAILED"
    return ErrorCode.BAD_USER_INPUT.value


def assign_codes(errors: list[GraphQLError], execution_context: Any) -> None:
    context = getattr(execution_context, "context", None)
    request_id = getattr(context, "request_id", "") or "-"
    for error in errors:
        assign_code(error, request_id)
    unavailable = [
        int((e.extensions or {}).get("retryAfter") or 1)
        for e in errors
        if (e.extensions or {}).get("code") == ErrorCode.SERVICE_UNAVAILABLE.value
    ]
    headers = http_response_headers(context) if unavailable else None
    if headers is not None and "retry-after" not in headers:
        headers["Retry-After"] = str(max(unavailable))
