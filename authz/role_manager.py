"""Casbin's ``g(user, role, area)`` answered from the request's active grants.

Casbin's own domain role manager would need every grant loaded as a ``g`` rule: slow
to start and reload, memory per area without bound, and no expiry (DESIGN.md). Here a
grant is looked up in :mod:`authz.grants`, installed once per request, and a grant of
a role in an area reaches that area and every area whose code starts with it.

Deliberate differences from ``casbin.rbac.default_role_manager``:

* ``has_link(x, x, area)`` is **not** True. The default manager treats every name as
  holding itself, which our matcher never needs (policies name roles, requests name
  users ``user:<id>``); mirroring it would let a subject that happens to be spelled
  like a role (``"admin"``) pass as that role.
* There are no links to add: grants live in the ``area_grant`` table. A ``g`` line in
  ``policies.csv`` (or ``add_grouping_policy``) raises instead of being silently
  ignored, so nobody believes they granted something that has no effect.
* Domain matching is ours alone; a custom matching function cannot be plugged in.
"""

from __future__ import annotations

import functools
import logging

from casbin.rbac import RoleManager

from authz.grants import ActiveGrant, current_grants
from db.codes import validate_code
from db.errors import InvalidField

log = logging.getLogger(__name__)


def is_area_code(code: object) -> bool:
    """True for a well-formed area code. An empty or malformed one must never match:
    as a prefix, ``''`` would reach the whole country."""
    return isinstance(code, str) and _is_valid_code(code)


@functools.lru_cache(maxsize=65536)
def _is_valid_code(code: str) -> bool:
    # Cached because Casbin asks once per policy line per decision; codes are few.
    try:
        validate_code(code)
    except InvalidField:
        return False
    return True


def grant_reaches(grant: ActiveGrant, area_code: str) -> bool:
    """Whether ``grant`` applies at ``area_code``: both codes well formed, grant's is a prefix."""
    return is_area_code(grant.area_code) and is_area_code(area_code) and area_code.startswith(grant.area_code)


class GrantRoleManager(RoleManager):
    """Role manager whose only source of truth is :func:`authz.grants.current_grants`."""

    def clear(self) -> None:
        """Nothing cached: Casbin calls this before (re)building links on every policy load."""

    def add_link(self, name1: str, name2: str, *domain: str) -> None:
        raise RuntimeError(
            f"role links are not configured in Casbin (got g, {name1}, {name2}, {', '.join(domain)}): "
            "grants live in the area_grant table"
        )

    def delete_link(self, name1: str, name2: str, *domain: str) -> None:
        raise RuntimeError("role links are not configured in Casbin: grants live in the area_grant table")

    def add_matching_func(self, fn=None) -> None:  # noqa: ANN001 - Casbin's signature
        raise RuntimeError("GrantRoleManager matches roles by name only")

    def add_domain_matching_func(self, fn=None) -> None:  # noqa: ANN001 - Casbin's signature
        raise RuntimeError("GrantRoleManager matches areas by code prefix only")

    def has_link(self, name1: str, name2: str, *domain: str) -> bool:
        """True iff user ``name1`` holds role ``name2`` in an area containing ``domain``."""
        if len(domain) != 1:
            return False  # our model always asks with an area; without one, nothing applies
        area = domain[0]
        return any(g.role == name2 and grant_reaches(g, area) for g in current_grants(name1))

    def get_roles(self, name: str, *domain: str) -> list[str]:
        """Roles ``name`` holds at ``domain`` (all its roles when no area is given)."""
        grants = current_grants(name)
        if domain:
            if len(domain) != 1:
                return []
            grants = tuple(g for g in grants if grant_reaches(g, domain[0]))
        else:
            grants = tuple(g for g in grants if is_area_code(g.area_code))
        return sorted({g.role for g in grants})

    def get_users(self, name: str, *domain: str) -> list[str]:
        """Always empty: who holds a role is a question for the ``area_grant`` table.

        The context only knows the one user whose request is running, so any answer
        here would be a partial list presented as a complete one.
        """
        return []

    def print_roles(self) -> None:
        log.debug("GrantRoleManager: roles come from the active grants of the running request")
