"""One log line and one set of metrics per GraphQL operation.

The line carries the request id (also sent back as `X-Request-Id` over HTTP), the API key's
id (never its secret: the context holds only the verified key's id), the operation's type and
name, the outcome (`ok`, or the first error's code) and the duration. A subscription is one
operation from subscribe to its end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

log = logging.getLogger("graphql_api.operations")


def _metrics(context: Any) -> Any:
    return getattr(getattr(context, "services", None), "metrics", None)


def http_response_headers(context: Any) -> MutableHeaders | None:
    """The headers of the HTTP response being prepared (None over websockets)."""
    response = getattr(context, "response", None)
    return response.headers if isinstance(response, Response) else None


def outcome_of(errors: list[GraphQLError] | None) -> str:
    if not errors:
        return "ok"
    return str((errors[0].extensions or {}).get("code", "INTERNAL"))


def record_operation(
    context: Any,
    *,
    operation_type: str,
    operation_name: str | None,
    outcome: str,
    seconds: float,
    error_codes: list[str],
) -> None:
    metrics = _metrics(context)
    if metrics is not None:
        timed = operation_type in ("query", "mutation")
        metrics.observe_operation(
            operation_type, operation_name, outcome, seconds if timed else None
        )
    if log.isEnabledFor(logging.INFO):
        principal = getattr(context, "principal_or_none", None)
        fields = {
            "requestId": getattr(context, "request_id", None),
            "keyId": str(principal.key_id) if principal is not None else None,
            "operationType": operation_type,
            "operationName": operation_name,
            "outcome": outcome,
            "errorCodes": error_codes,
            "durationMs": round(seconds * 1000, 2),
        }
        log.info(
            "%s %s %s %.1f ms",
            operation_type, operation_name or "-", outcome, seconds * 1000, extra=fields,
        )  # fmt: skip


def record_refused_document(context: Any, operation_name: Any, error: GraphQLError) -> None:
    """An operation refused before parsing (api/query_limits.py), so no extension saw it."""
    code = outcome_of([error])
    record_operation(
        context,
        operation_type="unknown",
        operation_name=operation_name if isinstance(operation_name, str) else None,
        outcome=code,
        seconds=0.0,
        error_codes=[code],
    )


def operation_started(execution_context: ExecutionContext) -> float:
    """The start of an operation: the request id goes on the HTTP response; returns the clock
    reading that `operation_finished` measures the duration from."""
    started = time.perf_counter()
    context = execution_context.context
    headers = http_response_headers(context)
    request_id = getattr(context, "request_id", None)
    if request_id and headers is not None:
        headers["X-Request-Id"] = request_id
    return started


def operation_finished(
    execution_context: ExecutionContext, seconds: float, failure: BaseException | None
) -> None:
    """The end of an operation (`failure`: what it raised, if anything): its metrics and its
    log line, with the outcome its errors (or its failure) make."""
    context = execution_context.context
    errors = execution_context.pre_execution_errors
    if not errors and execution_context.result is not None:
        errors = execution_context.result.errors
    codes = [outcome_of([e]) for e in errors or ()]
    operation_type = _operation_type(execution_context)
    if isinstance(failure, asyncio.CancelledError):
        # A client ending its subscription cancels it: that is how subscriptions end.
        outcome = "ok" if operation_type == "subscription" else "cancelled"
    elif failure is not None:
        outcome = "INTERNAL"
    else:
        outcome = codes[0] if codes else "ok"
    record_operation(
        context,
        operation_type=operation_type,
        operation_name=_operation_name(execution_context),
        outcome=outcome,
        seconds=seconds,
        error_codes=codes,
    )


def _operation_type(execution_context: ExecutionContext) -> str:
    try:
        operation_type = execution_context.operation_type
    except Exception:  # noqa: BLE001 - no document (it did not parse)
        return "unknown"
    return operation_type.value if isinstance(operation_type, OperationType) else "unknown"


def _operation_name(execution_context: ExecutionContext) -> str | None:
    try:
        return execution_context.operation_name
    except Exception:  # noqa: BLE001
        return None


class OperationObserver(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        execution_context = self.execution_context
        started = operation_started(execution_context)
        failure: BaseException | None = None
        try:
            yield
        except GeneratorExit:
            raise  # a subscription the client stopped: its normal end
        except BaseException as error:
            failure = error
            raise
        finally:
            operation_finished(execution_context, time.perf_counter() - started, failure)
