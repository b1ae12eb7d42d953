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

import db.models  # noqa: F401 - every table declared before the gate reads the declarations
from authz.scope import Scope, prefix_condition
from db.area import Area
from db.codes import ancestor_codes
from db.registration import declared, place_bound_tables


def gated_tables() -> tuple[tuple[type, str], ...]:
    """The place-bound tables the gate filters, other than areas, with their resources.

    Read from the declarations (``db.registration``) at each use, so a table declared
    after this module was imported is gated all the same.
    """
    return tuple((t.model, t.resource) for t in place_bound_tables() if t.model is not Area)


def _read_from_below(model) -> bool:
    found = declared(model)
    return found is not None and found.seen_from_below


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
    return _at_or_above(Area.code, scope.prefixes("area", "read"))


def _at_or_above(column, prefixes: tuple[str, ...]):
    """Rows whose code lies in one of ``prefixes``' subtrees or on the path above one:
    how areas are read, and every table declared ``seen_from_below``."""
    if not prefixes:
        return false()
    ancestors = sorted({a for p in prefixes for a in ancestor_codes(p)})
    parts = [prefix_condition(column, prefixes)]
    if ancestors:
        parts.append(column.in_([literal(a, String, literal_execute=True) for a in ancestors]))
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
        tables = gated_tables()
        options = cache[action] = _options_for(
            action, tuple(model for model, _ in tables), tuple(scope.prefixes(resource, action) for _, resource in tables),
            scope.prefixes("area", "read") if action == "read" else None)
    return options


@functools.lru_cache(maxsize=1024)
def _options_for(action: str, models: tuple[type, ...], prefixes: tuple[tuple[str, ...], ...],
                 area_prefixes: tuple[str, ...] | None) -> tuple:
    """The options for ``action`` from the prefixes of each of ``models``, in that order,
    and of ``area read`` (None: areas are not changed through the API)."""
    areas = _at_or_above(Area.code, area_prefixes) if area_prefixes is not None else false()
    return (*(with_loader_criteria(model, _condition(model, model_prefixes, action), include_aliases=True)
              for model, model_prefixes in zip(models, prefixes)),
            with_loader_criteria(Area, areas, include_aliases=True))


def _condition(model, prefixes: tuple[str, ...], action: str):
    if action == "read" and _read_from_below(model):
        return _at_or_above(model.area_code, prefixes)
    return prefix_condition(model.area_code, prefixes)


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

    table = declared(type(obj))
    if table is None or table.bookkeeping is not None:
        # Undeclared: accounts and login sessions, which hold no area (a test fails for any
        # table with an area code left undeclared). Bookkeeping: see its declaration.
        return
    if area_code is None or not scope.allows(area_code, table.resource, action):
        raise Forbidden(f"not allowed to {action} {table.resource} in area {area_code or '(none)'}")


__all__ = ["ScopedSession", "gated_tables", "area_condition", "scope_of", "UnscopedSession"]
