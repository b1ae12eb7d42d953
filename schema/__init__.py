"""The assembled GraphQL schema (``schema.graphql`` at the repo root is its exported SDL).

Each domain contributes its own root types; they are merged here, so adding a domain is
one line in each list.
"""

from __future__ import annotations

import strawberry
from strawberry.extensions import QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from db.errors import DomainError
from schema.query import Query
from schema.account import AccountMutation, AccountQuery
from schema.audit import AuditQuery, PolicyMutation
from schema.auth import AuthMutation
from schema.registry_lookup import RegistryLookupMutation
from schema.registry_mutations import RegistryMutation
from server.errors import ErrorCodes
from server.lifecycle import AuditClearReads, RefuseStaleToken

MAX_DEPTH = 25

QUERY_TYPES: list[type] = [Query]
QUERY_TYPES += [AccountQuery, AuditQuery]
MUTATION_TYPES: list[type] = [RegistryMutation, RegistryLookupMutation]
MUTATION_TYPES += [AuthMutation, AccountMutation, PolicyMutation]


class WanggeSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Log bugs, not the user errors every client makes (bad input, no access)."""
        unexpected = [e for e in errors if e.original_error is not None
                      and not isinstance(e.original_error, DomainError)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = WanggeSchema(
    query=merge_types("Query", tuple(QUERY_TYPES)),
    mutation=merge_types("Mutation", tuple(MUTATION_TYPES)) if MUTATION_TYPES else None,
    config=StrawberryConfig(sort_schema=True),
    extensions=[ErrorCodes, AuditClearReads, RefuseStaleToken, lambda: QueryDepthLimiter(max_depth=MAX_DEPTH)],
)
