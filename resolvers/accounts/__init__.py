"""Accounts' resolvers: staff users, their grants and their logins.

``users`` (which users an admin sees, and their grants), ``admin`` (what area
administrators change: accounts and grants, under the delegation rules) and ``auth``
(logging in and out, refreshing tokens, what the viewer may do).
"""
