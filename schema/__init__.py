"""The GraphQL root types (``schema.graphql`` at the repo root is the exported SDL).

Each domain contributes its own root types; they are merged here, so adding a domain is
one line in each list. The executable schema (its extensions: error codes, limits, the
audit of clear reads) is assembled in the server layer, ``server.graphql_schema``: the
types do not depend on how they are served.
"""

from __future__ import annotations

from strawberry.tools import merge_types

# Domains first: they add fields to the shared types (``schema.extend``), which are
# assembled when ``schema.query`` imports them.
from schema.account import AccountMutation, AccountQuery
from schema.audit import AuditQuery, PolicyMutation
from schema.auth import AuthMutation
from schema.registry_lookup import RegistryLookupMutation
from schema.registry_mutations import RegistryMutation
from schema.query import Query as RegistryQuery  # noqa: I001 - after the domains, see above

QUERY_TYPES: list[type] = [RegistryQuery]
QUERY_TYPES += [AccountQuery, AuditQuery]
MUTATION_TYPES: list[type] = [RegistryMutation, RegistryLookupMutation]
MUTATION_TYPES += [AuthMutation, AccountMutation, PolicyMutation]

Query = merge_types("Query", tuple(QUERY_TYPES))
Mutation = merge_types("Mutation", tuple(MUTATION_TYPES)) if MUTATION_TYPES else None
