"""The assembled GraphQL schema (``schema.graphql`` at the repo root is its exported SDL).

Each domain contributes its own root types; they are merged here, so adding a domain is
one line in each list.
"""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import AddValidationRules
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

# Domains first: they add fields to the shared types (``schema.extend``), which are
# assembled when ``schema.query`` imports them.
from schema.account import AccountMutation, AccountQuery
from schema.audit import AuditQuery, PolicyMutation
from schema.auth import AuthMutation
from schema.registry_lookup import RegistryLookupMutation
from schema.registry_mutations import RegistryMutation
from schema.query import Query  # noqa: I001 - after the domains, see above
from server.errors import ErrorCodes, client_code
from server.lifecycle import AuditClearReads, RequireLogin
from server.limits import RequestLimits

MAX_DEPTH = 25
#: ``QueryDepthLimiter(max_depth=...)`` builds a new rule class each time it is made; a
#: shared instance is deprecated (extensions hold per-request state), so the rule is built
#: once and each request gets a light ``AddValidationRules`` around it.
DEPTH_LIMIT = partial(AddValidationRules, [create_validator(MAX_DEPTH, None)])

QUERY_TYPES: list[type] = [Query]
QUERY_TYPES += [AccountQuery, AuditQuery]
MUTATION_TYPES: list[type] = [RegistryMutation, RegistryLookupMutation]
MUTATION_TYPES += [AuthMutation, AccountMutation, PolicyMutation]


class WanggeSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Log bugs (once, with the traceback), not the mistakes every client makes.

        Bad input, crafted IDs and refusals are answered with their code and never logged:
        a malformed ID used to leave three chained tracebacks. ``server.errors.client_code``
        is the one rule for which is which.
        """
        bugs = [e for e in errors if client_code(e) is None]
        if bugs:
            super().process_errors(bugs, execution_context)


schema = WanggeSchema(
    query=merge_types("Query", tuple(QUERY_TYPES)),
    mutation=merge_types("Mutation", tuple(MUTATION_TYPES)) if MUTATION_TYPES else None,
    config=StrawberryConfig(sort_schema=True),
    extensions=[ErrorCodes, AuditClearReads, RequireLogin, RequestLimits, DEPTH_LIMIT],
)
