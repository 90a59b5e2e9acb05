"""Queries and mutations run through the schema's steps directly, not through Strawberry's
extension runner.

For every operation Strawberry's `Schema.execute` asks each extension for its hook in each of
four stages (operation, parsing, validation, execution), wraps each hook in a context manager
and enters it: with our five extensions that bookkeeping was about 0.15 ms of the 0.35 ms of
CPU a `{ __typename }` query took. `DirectExecution.execute` runs the same steps, the
functions the extensions themselves call, in the order the runner would run them, inside a
copy of Strawberry's own sequence (`Schema.execute`, `_prepare_operation_async`,
`_execute_operation`, `_handle_execution_result` in strawberry/schema/schema.py):

    operation    operation_started (OperationObserver), apply_limits (QueryLimits)
    parsing      parse_with_cache (ReportingParserCache)
                 operation type checks: MissingQueryError, CannotGetOperationTypeError and
                 InvalidOperationTypeError are raised, as Strawberry raises them
    validation   validate_with_cache (CachedValidation)
    execution    refuse_costly (QueryLimits), spend_budgets (RateLimits), graphql-core's
                 execute, `process_errors` on its errors
    operation    operation_finished (OperationObserver)

so results, errors, response headers, log lines and metrics are the ones the extensions make.
tests/hardening/test_operation_pipeline.py holds both paths to that.

Strawberry's path still runs subscriptions, and every operation sent over a websocket:
graphql-transport-ws runs queries and mutations through `Schema.stream`, which this does not
replace. A schema whose extensions are not exactly STANDS_IN_FOR (in that order), or that has
directives (Strawberry adds an extension for them) or incremental delivery, takes Strawberry's
path for everything: the steps here would silently leave out what it adds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from graphql.execution import execute
from strawberry import Schema
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe

from graphql_api.api.operation_observer import (
    OperationObserver,
    operation_finished,
    operation_started,
)
from graphql_api.api.parser_cache import ReportingParserCache, parse_with_cache
from graphql_api.api.query_limits import QueryLimits, apply_limits, refuse_costly
from graphql_api.api.rate_limits import RateLimits, spend_budgets
from graphql_api.api.validation_cache import CachedValidation, validate_with_cache

#: The extensions whose steps `DirectExecution` runs, in the order the schema lists them.
STANDS_IN_FOR: tuple[type, ...] = (
    OperationObserver,
    QueryLimits,
    ReportingParserCache,
    CachedValidation,
    RateLimits,
)


class DirectExecution(Schema):
    """A schema whose queries and mutations run their steps directly (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Whether the steps here are all that Strawberry's runner would run for this schema.
        self.runs_directly = (
            tuple(type(extension) for extension in self.get_extensions()) == STANDS_IN_FOR
            and not self.config.enable_experimental_incremental_execution
        )

    async def execute(  # noqa: PLR0917 - Strawberry's signature
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Strawberry's `Schema.execute`, with the extensions' steps called in place of its
        extension runner."""
        if not self.runs_directly:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        execution_context = ExecutionContext(
            query=query,
            schema=self,
            allowed_operations=(
                DEFAULT_ALLOWED_OPERATION_TYPES
                if allowed_operation_types is None
                else allowed_operation_types
            ),
            context=context_value,
            root_value=root_value,
            variables=variable_values,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )
        answer: ExecutionResult | None = None
        result: Any = None
        try:
            started = operation_started(execution_context)
            try:
                apply_limits(execution_context)
                refused = self._prepare_directly(execution_context)
                if refused is not None:
                    answer = self._answer(execution_context, refused)
                else:
                    result = await self._execute_directly(execution_context)
            except BaseException as failure:
                operation_finished(execution_context, time.perf_counter() - started, failure)
                raise
            operation_finished(execution_context, time.perf_counter() - started, None)
        except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError):
            raise
        except Exception as error:  # noqa: BLE001 - answered as Strawberry answers it
            if isinstance(error, GraphQLError):
                coerced = error
            else:
                coerced = GraphQLError(str(error), original_error=error)
            return self._answer(execution_context, PreExecutionError(data=None, errors=[coerced]))
        if answer is not None:
            return answer
        return self._answer(execution_context, result, errors_processed=True)

    def _prepare_directly(self, execution_context: ExecutionContext) -> PreExecutionError | None:
        """Parse, check the operation type, validate: Strawberry's `_prepare_operation_async`."""
        if not execution_context.query and execution_context.graphql_document is None:
            raise MissingQueryError
        syntax_error = parse_with_cache(execution_context)
        if syntax_error is not None:
            # Strawberry parses again here, and fails with the same error.
            execution_context.pre_execution_errors = [syntax_error]
            return PreExecutionError(data=None, errors=[syntax_error])
        try:
            operation_type = execution_context.operation_type
        except RuntimeError as error:
            raise CannotGetOperationTypeError(execution_context.operation_name) from error
        if operation_type not in execution_context.allowed_operations:
            raise InvalidOperationTypeError(operation_type)
        validate_with_cache(execution_context)
        if execution_context.pre_execution_errors:
            return PreExecutionError(data=None, errors=execution_context.pre_execution_errors)
        return None

    async def _execute_directly(self, execution_context: ExecutionContext) -> Any:
        """The limits, then graphql-core: Strawberry's `_execute_operation`."""
        refuse_costly(execution_context)
        await spend_budgets(execution_context)
        if not execution_context.result:
            assert execution_context.graphql_document is not None
            result = await await_maybe(
                execute(
                    self._schema,
                    execution_context.graphql_document,
                    root_value=execution_context.root_value,
                    # None of the extensions has a `resolve` hook: no middleware to wrap with.
                    middleware=None,
                    variable_values=execution_context.variables,
                    operation_name=execution_context.operation_name,
                    context_value=execution_context.context,
                    is_awaitable=optimized_is_awaitable,
                    executor_class=self.execution_context_class,
                    **self._get_custom_context_kwargs(execution_context.operation_extensions),
                )
            )
            execution_context.result = result
        else:
            result = execution_context.result
        if isinstance(result, GraphQLExecutionResult) and result.errors:
            execution_context.pre_execution_errors = result.errors
            self._process_errors(result.errors, execution_context)
        return result

    def _answer(
        self,
        execution_context: ExecutionContext,
        result: Any,
        *,
        errors_processed: bool = False,
    ) -> ExecutionResult:
        """The result as Strawberry returns it: `_handle_execution_result`."""
        if result.errors:
            execution_context.pre_execution_errors = result.errors
            if not errors_processed:
                self._process_errors(result.errors, execution_context)
        if isinstance(result, GraphQLExecutionResult):
            result = ExecutionResult(data=result.data, errors=result.errors)
        # None of the extensions reports results of its own.
        result.extensions = dict(execution_context.extensions_results)
        execution_context.result = result
        return result
