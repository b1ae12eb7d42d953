"""The single gate every request's database access goes through.

A request's session is a :class:`ScopedSession` carrying the user's :class:`Scope` in
``session.info``. Two SQLAlchemy hooks enforce it, so no resolver can forget a filter:

- ``do_orm_execute`` adds ``with_loader_criteria`` for every place-bound table to every
  ORM SELECT, UPDATE and DELETE, nested loads included: rows outside the user's slice do
  not exist for that request;
- ``before_flush`` checks every new or changed row: the writer must hold ``create`` (or
  ``update`` at both the old and the new place) there, so nobody moves a record out of, or
  into, an area they do not hold.

What the hooks cannot see (Core selects on ``__table__``, ``text()``, raw connections)
is not used by resolvers; system work (seeding, counters rebuild, audit retention) uses a
plain ``Session``, which these hooks do not touch. A ScopedSession without a scope fails
closed.
"""

from __future__ import annotations

import functools

from sqlalchemy import String, event, false, inspect, literal, or_
from sqlalchemy.orm import Session, with_loader_criteria

from authz.scope import Scope, prefix_condition
from db.accounts import AreaGrant
from db.area import Area
from db.audit import AuditEvent
from db.codes import ancestor_codes
from db.registry import Building, Household, Resident
from db.stats import GridStats

#: Place-bound tables and the policy resource that governs them.
RESOURCE_OF: dict[type, str] = {
    Building: "building",
    Household: "household",
    Resident: "resident",
    GridStats: "aggregate",
    AuditEvent: "audit",
    AreaGrant: "grant",
}

#: Rows the API writes on the user's behalf as a consequence of an allowed write; the
#: write itself was checked, these are bookkeeping (counters, audit trail, grants checked
#: by the delegation rules).
BOOKKEEPING = (GridStats, AuditEvent, AreaGrant)


class UnscopedSession(RuntimeError):
    """A request session was used without a scope: a programming error, never data."""


class ScopedSession(Session):
    """The session class of request work; see the module docstring."""


def scope_of(session: Session) -> Scope:
    scope = session.info.get("scope")
    if scope is None:
        raise UnscopedSession("request session used without a scope")
    return scope


def area_condition(scope: Scope):
    """Areas a user may see: those in their ``area/read`` subtrees and the path above them.

    The path matters to a grid worker walking up to "which community, which street am I
    in", and the names of offices are not personal data.
    """
    return _area_condition(scope.prefixes("area", "read"))


def _area_condition(prefixes: tuple[str, ...]):
    if not prefixes:
        return false()
    ancestors = sorted({a for p in prefixes for a in ancestor_codes(p)})
    parts = [prefix_condition(Area.code, prefixes)]
    if ancestors:
        parts.append(Area.code.in_([literal(a, String, literal_execute=True) for a in ancestors]))
    return or_(*parts)


def gate_options(session: Session, action: str) -> tuple:
    """The ``with_loader_criteria`` options for ``action``: per request, then per process.

    A request issues many statements with the same scope; rebuilding an OR of 50 ranges for
    seven tables on each of them cost a 50-grant user 7-10 ms per statement (``bench/``),
    and building them once per request was still 7% of a request's CPU. The options depend
    only on the merged prefixes they are built from, so users (and requests) with the same
    prefixes share them (``_options_for``, a bounded process-wide cache).
    """
    cache = session.info.setdefault("gate_options", {})
    options = cache.get(action)
    if options is None:
        scope = scope_of(session)
        options = cache[action] = _options_for(
            action, tuple(scope.prefixes(resource, action) for resource in RESOURCE_OF.values()),
            scope.prefixes("area", "read") if action == "read" else None)
    return options


@functools.lru_cache(maxsize=1024)
def _options_for(action: str, prefixes: tuple[tuple[str, ...], ...], area_prefixes: tuple[str, ...] | None) -> tuple:
    """The options for ``action`` from the prefixes of each of ``RESOURCE_OF``, in its order,
    and of ``area read`` (None: areas are not changed through the API)."""
    areas = _area_condition(area_prefixes) if area_prefixes is not None else false()
    return (*(with_loader_criteria(model, prefix_condition(model.area_code, model_prefixes), include_aliases=True)
              for model, model_prefixes in zip(RESOURCE_OF, prefixes)),
            with_loader_criteria(Area, areas, include_aliases=True))


@event.listens_for(ScopedSession, "do_orm_execute")
def _restrict_statement(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    action = "read" if state.is_select else ("update" if state.is_update else "delete")
    state.statement = state.statement.options(*gate_options(state.session, action))


@event.listens_for(ScopedSession, "before_flush")
def _check_writes(session: Session, _flush_context, _instances) -> None:
    scope = scope_of(session)
    for obj in session.new:
        _check(scope, obj, "create", obj_area(obj))
    for obj in session.dirty:
        if not session.is_modified(obj, include_collections=False):
            continue
        before = _original_area(obj)
        _check(scope, obj, "update", before)
        if obj_area(obj) != before:
            _check(scope, obj, "update", obj_area(obj))
    for obj in session.deleted:
        _check(scope, obj, "delete", _original_area(obj))


def obj_area(obj) -> str | None:
    return getattr(obj, "area_code", None)


def _original_area(obj) -> str | None:
    hist = inspect(obj).attrs.area_code.history if hasattr(obj, "area_code") and not isinstance(obj, Area) else None
    if hist is not None and hist.deleted:
        return hist.deleted[0]
    return obj_area(obj)


def _check(scope: Scope, obj, action: str, area_code: str | None) -> None:
    from db.errors import Forbidden

    if isinstance(obj, BOOKKEEPING):
        return
    resource = RESOURCE_OF.get(type(obj)) or ("area" if isinstance(obj, Area) else None)
    if resource is None:
        return  # accounts and login sessions: checked by their own resolvers
    if area_code is None or not scope.allows(area_code, resource, action):
        raise Forbidden(f"not allowed to {action} {resource} in area {area_code or '(none)'}")


__all__ = ["ScopedSession", "RESOURCE_OF", "area_condition", "scope_of", "UnscopedSession"]
