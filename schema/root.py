"""The root types, assembled from the domains served (``DOMAINS``).

Each domain's schema module declares its root fields with ``@fields_of("Query")`` or
``@fields_of("Mutation")`` and the fields it adds to shared types (``Area``, ``Resident``,
``Household``) the same way. Domains are imported first, in the order below (a domain
that adds fields to another domain's types comes before it), then the shared types and the
root types are assembled; a declaration arriving later is refused (``schema.extend``).
Adding a domain is one name here.
"""

from __future__ import annotations

import importlib

from strawberry.tools import merge_types

from schema.extend import mixins

#: Schema modules of the domains served (under ``schema.``; a domain that is a package names
#: its modules), in import order.
DOMAINS: tuple[str, ...] = (
    "accounts.types", "accounts.mutations", "audit", "policy", "accounts.auth",
    "timeline", "key_person", "returnee", "survey", "isolation",
    "registry.types", "registry.lookup", "registry.mutations",
)

for _domain in DOMAINS:
    importlib.import_module(f"schema.{_domain}")

from schema.query import AreaQuery  # noqa: E402 - assembles Area, after every domain declared its fields

Query = merge_types("Query", (AreaQuery, *mixins("Query")))
Mutation = merge_types("Mutation", mixins("Mutation"))
