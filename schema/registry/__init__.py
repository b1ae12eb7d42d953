"""GraphQL of the population registry: buildings, households and residents.

``types`` (the read types and the fields the registry adds to ``Area``), ``lookup``
(``lookupResident``) and ``mutations`` (inputs, payloads and the ``Mutation`` fields of
the registry's writes).
"""
