"""Who may give which role where: delegation never climbs.

An area admin hands out roles inside their own subtree, and only roles whose every
permission they hold themselves at that area. Checking permissions one by one through
Casbin (rather than comparing role names or a fixed ranking) keeps this right when
``policies.csv`` changes, and catches roles that are not "smaller" but different: an
admin lacks ``finding`` rights, so cannot create a supervisor to inspect their own
office. Rights are taken together over all the grantor's grants reaching the area, as
Casbin would answer for any request there.
"""

from __future__ import annotations

import casbin

from datetime import datetime

from authz.enforcer import role_permissions
from authz.role_manager import grant_reaches
from authz.scope import Scope
from db.codes import validate_code
from db.errors import Forbidden, InvalidField


def check_can_grant(scope: Scope, enforcer: casbin.Enforcer, role: str, area_code: str) -> None:
    """Raise unless ``scope``'s user may grant ``role`` at ``area_code``.

    :raises InvalidField: malformed area code, or a role no policy line names.
    :raises Forbidden: the area is outside the grantor's ``grant`` rights, or the role
        carries a permission the grantor lacks there (listed in the message).
    """
    validate_code(area_code, "area_code")
    if not scope.allows(area_code, "grant", "grant"):
        raise Forbidden(f"you may not grant roles at area {area_code}", field="area_code")
    permissions = role_permissions(enforcer, role)
    if not permissions:
        raise InvalidField("role", f"unknown role '{role}'")
    missing = sorted((res, act) for res, act in permissions if not scope.allows(area_code, res, act))
    if missing:
        listed = ", ".join(f"{act} {res}" for res, act in missing)
        raise Forbidden(f"role '{role}' has rights you do not hold at {area_code}: {listed}", field="role")


def check_within_own_term(scope: Scope, enforcer: casbin.Enforcer, role: str, area_code: str,
                          valid_until: datetime | None, also: tuple[tuple[str, str], ...] = ()) -> None:
    """Raise :class:`Forbidden` unless the new grant ends when the grantor's own rights to make it do.

    Delegation never climbs in time either: an admin whose own grant ends (a 包保 team
    leader, an acting administrator) could otherwise give an open-ended role, even admin,
    to a second account of their own and keep their rights after their grant ended. For
    each permission needed (those of ``role``, ``grant grant``, and ``also``), the
    grantor's rights at ``area_code`` last until the latest end of the grants that carry
    it there; the new grant may run until the earliest of those. Call after
    :func:`check_can_grant`, which ensures every permission is held.
    """
    needed = set(role_permissions(enforcer, role)) | {("grant", "grant")} | set(also)
    horizon: datetime | None = None
    for permission in needed:
        carriers = [g for g in scope.grants
                    if grant_reaches(g, area_code) and permission in role_permissions(enforcer, g.role)]
        if not carriers or any(g.valid_until is None for g in carriers):
            continue  # held without end (a missing one was refused by check_can_grant)
        end = max(g.valid_until for g in carriers)
        horizon = end if horizon is None else min(horizon, end)
    if horizon is not None and (valid_until is None or valid_until > horizon):
        raise Forbidden(f"your own rights to grant '{role}' at {area_code} end at {horizon.isoformat()}: "
                        "the grant must end by then", field="validUntil")
