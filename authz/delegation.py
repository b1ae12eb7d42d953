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

from authz.enforcer import role_permissions
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
