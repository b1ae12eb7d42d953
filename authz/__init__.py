"""Authorisation core: who may do what, where, and how that becomes SQL.

Kept free of database access so it can be reasoned about and tested alone: the
Casbin model and role manager answer single decisions from a user's active grants,
the scope compiler turns those grants into one SQL range condition per resource and
action, and the helpers beside them (masking, passwords, tokens, delegation) are the
rules every request path must apply the same way.
"""
