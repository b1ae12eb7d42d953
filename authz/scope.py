"""The scope compiler: one user's grants -> one SQL condition per resource and action.

Resolvers never ask Casbin row by row. For a listing, the question "which rows may this
user read?" is turned into a set of area-code prefixes, and the prefixes into an OR of
B-tree ranges on the record's ``area_code``; the database does the rest from an index.

The prefixes are written into the SQL as literals (rendered at execution time), not
bound parameters: a prepared statement planned once for a province-wide scope and
reused for a grid worker's (or the reverse) ran 1,234 ms instead of 0.2 ms on
PostgreSQL (DESIGN.md, plan caching). Inlining is safe because every prefix is
re-validated as a well-formed, digits-only area code right before it is rendered.
A user with no prefix gets ``FALSE``, never an empty pattern (``'' || '%'`` matches
every row), and never ``LIKE ANY`` (which no index answers).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

import casbin
from sqlalchemy import String, and_, bindparam, false, literal, or_
from sqlalchemy.sql.elements import ColumnElement

from authz.grants import ActiveGrant, use_grants
from authz.role_manager import is_area_code
from db.codes import LEVEL_CODE_LENGTH, RANGE_END, Level, merge_prefixes, validate_code

GRID_CODE_LENGTH = LEVEL_CODE_LENGTH[Level.GRID]


def allowed_prefixes(
    enforcer: casbin.Enforcer,
    subject: str,
    grants: Iterable[ActiveGrant],
    resource: str,
    action: str,
) -> list[str]:
    """The merged area-code prefixes under which ``subject`` may ``action`` on ``resource``.

    Casbin is asked once per *role* the user holds, at the area of one grant of that role,
    with only that grant installed, not once per row and not once per grant. That is exact:

    - the union of the subtrees of the grants whose own role allows the action is the set
      of allowed areas (a grant reaches its area and everything below; an area is allowed
      iff some grant reaching it has a role that allows);
    - the policy's ``p`` rules carry no area, so whether a role allows an action is the
      same at every area: one decision per role answers for all of that role's grants.

    (Asking per grant with all grants installed gave the same set, at 50 Casbin calls for
    a 50-grant user: ~6 ms per resource and action, measured in ``bench/``.) The property
    tests compare the result with per-row ``enforce`` under all grants, so a future
    policy model with per-area rules would be caught. A grant lying under another allowed
    one adds nothing and is merged away; malformed grant codes are skipped (they never
    match in the role manager either).
    """
    grants = tuple(dict.fromkeys(g for g in grants if is_area_code(g.area_code)))
    allowed = {g.area_code for g in grants if role_allows(enforcer, subject, g, resource, action)}
    return merge_prefixes(allowed)


#: Per enforcer (so per policy version: a reload builds a new one), what each role may do.
_DECISIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def role_allows(enforcer: casbin.Enforcer, subject: str, grant: ActiveGrant, resource: str, action: str) -> bool:
    """Whether ``grant``'s role allows ``action`` on ``resource``, asked of Casbin once per process.

    The answer depends only on the role and the policy (see ``allowed_prefixes``), yet it
    was asked again on every request for every gated model: 12-16% of the server's CPU.
    It is kept with the enforcer it came from, so a policy reload (a new enforcer, in
    every process that sees the new version) starts afresh.
    """
    decisions = _DECISIONS.get(enforcer)
    if decisions is None:
        decisions = _DECISIONS[enforcer] = {}
    key = (grant.role, resource, action)
    decided = decisions.get(key)
    if decided is None:
        with use_grants(subject, (grant,)):
            decided = decisions[key] = bool(enforcer.enforce(subject, grant.area_code, resource, action))
    return decided


def in_subtree(column: ColumnElement[str], prefix: str, field: str = "area_code") -> ColumnElement[bool]:
    """Rows whose area code lies in ``prefix``'s subtree: one index range.

    Used by the scope and by every listing "under this area", so both write the range the
    same way, with the validated prefix inlined.
    """
    low, high = subtree_bounds(prefix, field)
    # literal_execute: SQLAlchemy's compiled cache stays structural, while the driver
    # (and so PostgreSQL's plan cache) sees the constants inline.
    return and_(column >= literal(low, String, literal_execute=True),
                column < literal(high, String, literal_execute=True))


def subtree_bounds(prefix: str, field: str = "area_code") -> tuple[str, str]:
    """``(low, high)``: a subtree's codes are ``>= low`` and ``< high``; the prefix validated
    as digits only, since every range is inlined into the SQL."""
    prefix = validate_code(prefix, field)
    return prefix, prefix + RANGE_END


class Scope:
    """What one user may do where, for the duration of one request.

    Holds the user's active grants (read once per request) and the process's enforcer,
    and remembers each compiled prefix list, since one request applies the same
    resource/action filter to many queries (nested fields included).
    """

    def __init__(self, enforcer: casbin.Enforcer, subject: str, grants: Iterable[ActiveGrant]) -> None:
        self.enforcer = enforcer
        self.subject = subject
        self.grants: tuple[ActiveGrant, ...] = tuple(dict.fromkeys(grants))
        self._prefixes: dict[tuple[str, str], tuple[str, ...]] = {}
        self._allowed: dict[tuple[str, str, str], bool] = {}

    def __repr__(self) -> str:
        return f"Scope({self.subject!r}, {len(self.grants)} grants)"

    def prefixes(self, resource: str, action: str) -> tuple[str, ...]:
        """Merged prefixes of the areas where ``action`` on ``resource`` is allowed (cached)."""
        key = (resource, action)
        cached = self._prefixes.get(key)
        if cached is None:
            cached = tuple(allowed_prefixes(self.enforcer, self.subject, self.grants, resource, action))
            self._prefixes[key] = cached
        return cached

    def allows(self, area_code: str, resource: str, action: str) -> bool:
        """Single-record check through Casbin; a malformed area code is never allowed.

        Each answer is kept for the scope's request: Casbin evaluates its matcher against the
        policy's lines one by one (about 0.5 ms a call), and one write asks the same question
        several times (the command's ``require``, then the gate for every row it flushes in
        that grid: a survey visit with two people asked it six times). The answer depends only
        on the arguments, the grants and the enforcer, all fixed for the scope's lifetime.
        """
        key = (area_code, resource, action)
        allowed = self._allowed.get(key)
        if allowed is None:
            if not is_area_code(area_code):
                allowed = False
            else:
                with use_grants(self.subject, self.grants):
                    allowed = bool(self.enforcer.enforce(self.subject, area_code, resource, action))
            self._allowed[key] = allowed
        return allowed

    def condition(self, column: ColumnElement[str], resource: str, action: str) -> ColumnElement[bool]:
        """SQL that is true exactly for rows whose ``column`` (an area code) is in scope.

        ``FALSE`` without any prefix; otherwise one ``column >= 'p' AND column < 'p~'``
        range per merged prefix, OR-ed, each answerable from the column's index. Grid codes
        are leaves of the tree, so their ranges are single values: they go into one
        ``column IN (...)``, which keeps the condition small for a user holding many grids
        (it is applied to every table of every statement of the request).
        """
        return prefix_condition(column, self.prefixes(resource, action))


def prefix_condition(column: ColumnElement[str], prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    """What :meth:`Scope.condition` compiles, from the merged prefixes alone (so it can be shared)."""
    if not prefixes:
        return false()
    grids = [validate_code(p, "area_code") for p in prefixes if len(p) == GRID_CODE_LENGTH]
    parts = [in_subtree(column, p) for p in prefixes if len(p) != GRID_CODE_LENGTH]
    if len(grids) == 1:
        parts.append(column == literal(grids[0], String, literal_execute=True))
    elif grids:
        parts.append(column.in_(bindparam(None, grids, type_=String, expanding=True, literal_execute=True)))
    return or_(*parts)
