"""GraphQL of accounts: staff users, their grants and their logins.

``types`` (the viewer, users and grants), ``mutations`` (the admin mutations on them) and
``auth`` (``login``, ``refreshToken``, ``logout``).
"""
