"""Who may give which role where, and who may take it back: delegation never climbs.

One rule, :func:`grant_refusal`, answers "could this admin have made this grant?" for
every change an admin makes to grants and accounts:

- making a grant (``createUser``, ``grantRole``);
- ending one (``revokeGrant``): only a grant one could have made;
- switching an account off or on again (``deactivateUser``, ``reactivateUser``): only if
  one could have made every grant concerned.

A grant ``(role, area, end)`` could have been made by a grantor when

1. the area lies inside the grantor's ``grant grant`` rights;
2. every permission of the role (and any extra permission the change needs, such as
   ``user create``) is held by the grantor at that area. Checking permissions one by one
   through Casbin (rather than comparing role names or a fixed ranking) keeps this right
   when ``policies.csv`` changes, and catches roles that are not "smaller" but different:
   an admin lacks ``finding`` rights, so can neither create nor remove a supervisor
   inspecting their own office. Rights are taken together over all the grantor's grants
   reaching the area, as Casbin would answer for any request there;
3. the grant ends no later than the grantor's own rights to make it do (for each needed
   permission, the latest end among the grantor's grants carrying it there; the earliest
   of those over all needed permissions). An admin whose own grant ends (a 包保 team
   leader, a one-day deputy) can therefore neither give an open-ended role, even to a
   second account of their own, nor end an open-ended one, such as the grant of the admin
   who appointed them.

Refusals name only which input is wrong and why, never an area code or a role: when the
grant concerned is someone else's (a revocation, a deactivation), the admin may not be
able to see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import casbin

from authz.enforcer import role_permissions
from authz.role_manager import grant_reaches, is_area_code
from authz.scope import Scope
from db.errors import DomainError, Forbidden, InvalidField

Permission = tuple[str, str]


@dataclass(frozen=True)
class Refusal:
    """Why a grant could not have been made; the message names no area and no role.

    ``field`` is the part of the grant at fault (``areaCode``, ``role`` or ``validUntil``);
    ``bad_input`` marks a grant no one could make (a malformed area code, a role no policy
    names); ``detail`` adds what only the one asking for a new grant may read (the rights
    they lack, the end of their own rights).
    """

    field: str
    reason: str
    bad_input: bool = False
    detail: str = ""


def grant_refusal(scope: Scope, role: str, area_code: str, valid_until: datetime | None,
                  also: Iterable[Permission] = ()) -> Refusal | None:
    """None if ``scope``'s user could have granted ``role`` at ``area_code`` until ``valid_until``.

    ``valid_until`` None is an open-ended grant; ``also`` lists permissions the change needs
    at the area besides the role's own (``user create`` for a new account, ``user update``
    for a deactivation). See the module docstring for the rule.
    """
    enforcer: casbin.Enforcer = scope.enforcer
    if not is_area_code(area_code):
        return Refusal("areaCode", "not a well-formed area code", bad_input=True)
    if not scope.allows(area_code, "grant", "grant"):
        return Refusal("areaCode", "outside the areas where you may grant roles")
    permissions = role_permissions(enforcer, role)
    if not permissions:
        return Refusal("role", "no policy names this role", bad_input=True)
    needed = set(permissions) | {("grant", "grant")} | set(also)
    missing = sorted((res, act) for res, act in needed if not scope.allows(area_code, res, act))
    if missing:
        return Refusal("role", "carries rights you do not hold there",
                       detail=", ".join(f"{act} {res}" for res, act in missing))
    horizon: datetime | None = None
    for permission in needed:
        carriers = [g for g in scope.grants
                    if grant_reaches(g, area_code) and permission in role_permissions(enforcer, g.role)]
        if not carriers or any(g.valid_until is None for g in carriers):
            continue  # held without end (a permission not held at all was refused above)
        end = max(g.valid_until for g in carriers)
        horizon = end if horizon is None else min(horizon, end)
    if horizon is not None and (valid_until is None or valid_until > horizon):
        return Refusal("validUntil", "runs longer than your own rights to grant it",
                       detail=f"they end at {horizon.isoformat()}, the grant must end by then")
    return None


def could_have_granted(scope: Scope, role: str, area_code: str, valid_until: datetime | None,
                       also: Iterable[Permission] = ()) -> bool:
    """Whether :func:`grant_refusal` lets ``scope``'s user make this grant."""
    return grant_refusal(scope, role, area_code, valid_until, also) is None


def check_grantable(scope: Scope, role: str, area_code: str, valid_until: datetime | None,
                    also: Iterable[Permission] = ()) -> None:
    """Raise unless a new grant passes :func:`grant_refusal`, naming the input at fault.

    :raises InvalidField: a malformed area code or a role no policy names.
    :raises Forbidden: the area, the role's rights or the end are beyond the grantor's.
    """
    refusal = grant_refusal(scope, role, area_code, valid_until, also)
    if refusal is None:
        return
    if refusal.bad_input:
        raise InvalidField(refusal.field, refusal.reason)
    subject = {"areaCode": "this area is", "role": "this role", "validUntil": "this grant"}[refusal.field]
    detail = f": {refusal.detail}" if refusal.detail else ""
    raise Forbidden(f"{subject} {refusal.reason}{detail}", field=refusal.field)


def check_could_have_granted(scope: Scope, role: str, area_code: str, valid_until: datetime | None, *,
                             field: str, lead: str, also: Iterable[Permission] = ()) -> None:
    """Raise :class:`Forbidden` on ``field`` unless an existing grant passes :func:`grant_refusal`.

    For taking back someone else's grant (revoking it, switching its holder off or on):
    the message is ``lead`` (what was refused, e.g. "you may not revoke this grant: it is one"),
    then "you could not have made" and why, without the area, the role or the end of the
    actor's rights, since the grant may be one the actor cannot see.
    """
    refusal = grant_refusal(scope, role, area_code, valid_until, also)
    if refusal is not None:
        raise Forbidden(f"{lead} you could not have made ({refusal.reason})", field=field)


def check_can_grant(scope: Scope, enforcer: casbin.Enforcer, role: str, area_code: str) -> None:
    """The area and rights parts of :func:`grant_refusal` alone, for a grant whose end is not known.

    Kept for callers that ask before an end is chosen; every mutation uses the whole rule.
    """
    del enforcer  # the scope carries the enforcer
    try:
        check_grantable(scope, role, area_code, None)
    except DomainError as exc:
        if exc.field != "validUntil":
            raise


__all__ = ["Refusal", "grant_refusal", "could_have_granted", "check_grantable", "check_could_have_granted",
           "check_can_grant"]
