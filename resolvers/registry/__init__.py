"""The population registry's resolvers: buildings, households and residents.

``listings`` (the listings under an area), ``filters`` (their search filters and the rule
that keeps them from probing), ``lookup`` (``lookupResident``), ``places`` (mutations of
buildings and households) and ``people`` (mutations of residents).
"""
