"""How errors reach clients: a code in ``extensions.code``, never an internal detail.

Every code is a member of ``db.errors.ErrorCode``; an error carrying a code that is not
one is treated as a bug (logged, answered ``INTERNAL_SERVER_ERROR``), so nothing outside
the documented list reaches a client.

Expected errors (``db.errors.DomainError``) keep their message and carry their code
(``BAD_USER_INPUT``, ``NOT_FOUND``, ``FORBIDDEN``, ``CONFLICT``, ``UNAUTHENTICATED``) and
the field they concern. Query validation errors say ``GRAPHQL_VALIDATION_FAILED``.
Anything else is a bug: logged once with its traceback, and shown to the client as
"Internal server error" in production (the message is kept in development, where it helps).
"""

from __future__ import annotations


from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from db.errors import DomainError, ErrorCode


def client_code(error: GraphQLError) -> ErrorCode | None:
    """The code of an error the client caused, or None for a bug.

    One predicate for both uses: what the client is told, and what the log keeps (a
    client's mistake is never logged with a traceback; see ``server.graphql_schema.WanggeSchema``).
    """
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code
    if isinstance(original, GlobalIDValueError):
        # A malformed or foreign global ID (``!!!``, ``Nope:1``) was reported as INTERNAL_SERVER_ERROR.
        return ErrorCode.BAD_USER_INPUT
    if original is None:
        code = (error.extensions or {}).get("code")
        if code is not None:  # set where the error was made (``server.limits``, ``server.lifecycle``)
            return _member(code)
        return ErrorCode.GRAPHQL_VALIDATION_FAILED if error.path is None else ErrorCode.BAD_REQUEST
    if error.path is None and error.message.startswith("Variable '$"):
        # graphql-core coercing a variable (``DateTime`` "yesterday") keeps the scalar's
        # ValueError as the cause: the client's input, not a bug, and the message is about it.
        return ErrorCode.BAD_USER_INPUT
    return None


def _member(code) -> ErrorCode | None:
    try:
        return ErrorCode(code)
    except ValueError:
        return None


def classify(error: GraphQLError, production: bool) -> GraphQLError:
    original = error.original_error
    ext = dict(error.extensions or {})
    code = client_code(error)
    if code is None:  # a bug: logged by ``server.graphql_schema.WanggeSchema.process_errors``
        ext["code"] = ErrorCode.INTERNAL_SERVER_ERROR.value
        message = "Internal server error" if production else error.message
        return GraphQLError(message, error.nodes, error.source, error.positions, error.path, None, ext)
    ext["code"] = code.value
    message = error.message
    if isinstance(original, DomainError):
        message = original.message
        if original.field:
            ext["field"] = original.field
    elif isinstance(original, GlobalIDValueError):
        message = "not a valid ID"
    return GraphQLError(message, error.nodes, error.source, error.positions, error.path, None, ext)


class ErrorCodes(SchemaExtension):
    """Rewrites the result's errors as described in the module docstring."""

    def on_operation(self):
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        production = getattr(self.execution_context.context, "settings", None)
        production = bool(production and production.production)
        result.errors = [classify(e, production) for e in result.errors]
