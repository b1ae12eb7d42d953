"""GraphQL types, one module or package per domain, and the kit they are built with.

Importing the package imports no domain: the kit (``schema.extend``, ``schema.paging``,
``schema.mutations``, ``schema.personal``) can be used by a domain module before the
shared types are assembled. ``schema.root`` imports the domains and assembles the root
types; the executable schema (its extensions) is built in the server layer,
``server.graphql_schema``. ``schema.graphql`` at the repo root is the exported SDL.
"""
