"""What happens when an operation ends: clear reads audited, then one commit.

Personal data shown in clear is answered only if its audit row is committed: the rows
(one per resource and grid, one executemany) are written on the request's own
connection and transaction, and the operation's final commit carries them. If that
commit fails the whole answer is replaced by ``SERVICE_UNAVAILABLE``: a client never
holds clear data the trail does not know about. (The rows used to go through a second
pooled connection, which deadlocked the pool under 32 parallel clear readers.)

Callers without a valid token are refused here too (``RequireLogin``), once the
operation's root fields are known.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from graphql import GraphQLError, OperationDefinitionNode
from graphql.execution import ExecutionResult
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from db.audit import AuditEvent
from db.base import utcnow
from db.errors import ErrorCode

log = logging.getLogger("wangge")

def tokenless_fields() -> frozenset[str]:
    """Root fields a client holding an expired or revoked token may still call: the ways to a
    new one, i.e. the mutations whose command is declared public (``schema.mutations``)."""
    from schema.mutations import public_mutations

    return public_mutations() | {"__typename"}


class AuditClearReads(SchemaExtension):
    async def on_operation(self):
        yield
        ctx = self.execution_context.context
        if getattr(ctx, "connection", None) is None:
            return
        try:
            async with ctx.lock:
                rows = _audit_rows(ctx, self.execution_context.operation_name)
                if rows:
                    await ctx.session.execute(insert(AuditEvent), rows)  # one executemany, not one per grid
                if ctx.session.in_transaction():
                    await ctx.session.commit()
            ctx.clear_reads.clear()
        except SQLAlchemyError:
            log.exception("the operation's final commit (clear-read audit) failed; its answer is withheld")
            await ctx.session.rollback()
            result = self.execution_context.result  # strawberry returns this object: change it in place
            if result is not None:
                result.data = None
                result.errors = [GraphQLError(
                    "the answer could not be recorded in the audit trail and is withheld; try again",
                    extensions={"code": ErrorCode.SERVICE_UNAVAILABLE.value})]


def _audit_rows(ctx, operation_name: str | None) -> list[dict]:
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for read in ctx.clear_reads.values():
        grouped[(read.resource, read.area_code)].append(read.record_id)
    user, now = ctx.user, utcnow()
    return [
        dict(at=now, actor_id=user.id if user else None, actor_username=user.username if user else None,
             action="pii.read", resource=resource, area_code=area_code,
             record_ids=",".join(str(i) for i in sorted(ids, key=str)),
             detail={"operation": operation_name})
        for (resource, area_code), ids in sorted(grouped.items())
    ]


class RequireLogin(SchemaExtension):
    """One rule for callers without a valid token, applied before anything executes.

    - A token that did not authenticate (expired, revoked, forged): HTTP 401 for any
      operation, except one that only logs in or refreshes (a GraphiQL user whose token
      expired kept sending it and could not log in again without clearing the headers).
    - No token at all: queries run with an empty scope (they see nothing), and every
      mutation but ``login``/``refreshToken`` is HTTP 401. Registry mutations used to
      answer a payload error while account mutations answered a top-level one.

    The answer is the same in both cases: no data, one error ``UNAUTHENTICATED`` and
    ``WWW-Authenticate: Bearer``, so a client has one thing to handle.
    """

    def on_execute(self):
        ctx = self.execution_context.context
        message = getattr(ctx, "auth_error", None)
        if message is None and getattr(ctx, "user", True) is None and _is_mutation(self.execution_context):
            message = "log in first"
        if message and not _only_tokenless_fields(self.execution_context):
            ctx.response.status_code = 401
            ctx.response.headers["WWW-Authenticate"] = "Bearer"
            self.execution_context.result = ExecutionResult(data=None, errors=[GraphQLError(
                message, extensions={"code": ErrorCode.UNAUTHENTICATED.value})])
        yield


def _is_mutation(execution_context) -> bool:
    try:
        return execution_context.operation_type == OperationType.MUTATION
    except RuntimeError:  # no single operation chosen: validation has answered already
        return False


def _only_tokenless_fields(execution_context) -> bool:
    document = execution_context.graphql_document
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = execution_context.operation_name
    chosen = [op for op in operations if name is None or (op.name and op.name.value == name)]
    if len(chosen) != 1:
        return False
    selections = chosen[0].selection_set.selections
    tokenless = tokenless_fields()
    return all(getattr(sel, "name", None) is not None and sel.name.value in tokenless
               and getattr(sel, "kind", "") == "field" for sel in selections)
