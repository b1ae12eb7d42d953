"""Records that go where their resident goes: moved, with their counters, when the resident moves.

Most records stay where they were made (a survey record, a follow-up, a reading: the grid
that did the work counts it). Some are about where a person is now: an active isolation is
the care of the grid the person lives in, so when ``moveResident`` moves them the record
follows. A domain declares that once::

    follows_resident(Isolation, Isolation.status == "active")

and the registry's move, in its own transaction, moves every such row of the resident to
the new grid (the gate checks ``update`` at both grids, so a mover who may not change the
records there cannot move the person either), and moves the counters that count the row:
each declared counter of the model is evaluated on the row in SQL (its condition and its
day), so the move takes exactly what the recount would count, old grid to new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select

from db import counters as kit


@dataclass(frozen=True)
class Follower:
    model: type
    #: Which rows of a resident follow them (an active isolation, not a closed one).
    where: Any


_FOLLOWERS: list[Follower] = []


def follows_resident(model: type, where) -> None:
    """Declare that ``model``'s rows meeting ``where`` move with their resident (``resident_id``)."""
    if "resident_id" not in model.__table__.c or "area_code" not in model.__table__.c:
        raise TypeError(f"{model.__name__} has no resident_id and area_code to follow a resident by")
    _FOLLOWERS.append(Follower(model, where))


async def follow(w, resident_id: int, source: str, target: str) -> None:
    """Move every following row of the resident from grid ``source`` to ``target``, with its counters."""
    for follower in _FOLLOWERS:
        model = follower.model
        counted = [c for c in kit.declared() if c.model is model and c.per is None]
        columns = [case((c.where, 1), else_=0) if c.where is not None else 1 for c in counted]
        days = [c.day_column() for c in counted if c.per_day]
        stmt = select(model, *columns, *days).where(model.resident_id == resident_id, model.area_code == source,
                                                    follower.where)
        for found in (await w.session.execute(stmt)).all():
            row, flags, day_values = found[0], found[1:1 + len(counted)], iter(found[1 + len(counted):])
            for c, flag in zip(counted, flags):
                on = next(day_values) if c.per_day else None
                if flag and (not c.per_day or on is not None):
                    w.count(source, on=on, **{c.name: -1})
                    w.count(target, on=on, **{c.name: 1})
            row.area_code = target
            row.version, row.updated_by = row.version + 1, w.user.id  # an editor holding the old version reloads
            await w.session.flush()  # the gate checks the row's update at both grids here
            w.audit(f"{model.__tablename__}.follow", row, {"before": {"area_code": source},
                                                           "after": {"area_code": target}})
