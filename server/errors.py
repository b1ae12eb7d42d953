"""How errors reach clients: a code in ``extensions.code``, never an internal detail.

Expected errors (``db.errors.DomainError``) keep their message and carry their code
(``BAD_USER_INPUT``, ``NOT_FOUND``, ``FORBIDDEN``, ``CONFLICT``, ``UNAUTHENTICATED``) and
the field they concern. Query validation errors say ``GRAPHQL_VALIDATION_FAILED``.
Anything else is a bug: logged with its traceback, and shown to the client as
"Internal server error" in production (the message is kept in development, where it helps).
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from db.errors import DomainError

log = logging.getLogger("wangge.errors")


def classify(error: GraphQLError, production: bool) -> GraphQLError:
    original = error.original_error
    ext = dict(error.extensions or {})
    if isinstance(original, DomainError):
        ext["code"] = original.code
        if original.field:
            ext["field"] = original.field
        return GraphQLError(original.message, error.nodes, error.source, error.positions, error.path, None, ext)
    if isinstance(original, GlobalIDValueError):
        # A malformed or foreign global ID (``!!!``, ``Nope:1``) is the client's mistake,
        # not a bug: it was reported as INTERNAL_SERVER_ERROR.
        ext["code"] = "BAD_USER_INPUT"
        return GraphQLError("not a valid ID", error.nodes, error.source, error.positions, error.path, None, ext)
    if original is None:
        ext.setdefault("code", "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_REQUEST")
        return GraphQLError(error.message, error.nodes, error.source, error.positions, error.path, None, ext)
    if error.path is None and error.message.startswith("Variable '$"):
        # graphql-core coercing a variable (``DateTime`` "yesterday") keeps the scalar's
        # ValueError as the cause: the client's input, not a bug, and the message is about it.
        ext["code"] = "BAD_USER_INPUT"
        return GraphQLError(error.message, error.nodes, error.source, error.positions, None, None, ext)
    log.error("internal error at %s", error.path, exc_info=original)
    ext["code"] = "INTERNAL_SERVER_ERROR"
    message = "Internal server error" if production else error.message
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
