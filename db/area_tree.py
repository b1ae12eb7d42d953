"""Adding areas to the tree with the checks that keep the prefix property true.

Everything in authorisation rests on "a child's code starts with its parent's": a wrong
code would silently put a grid into another district's slice. So every area is checked
here before it is stored, whoever adds it (seed, CLI, API).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.area import Area
from db.codes import LEVEL_CODE_LENGTH, LEVELS, Level, parent_code_of, validate_code
from db.errors import InvalidField
from db.validators import validate_phone


def check_new_area(
    session: Session,
    *,
    code: str,
    level: str | Level,
    name: str,
    parent_code: str | None,
    grid_worker_phone: str | None = None,
) -> Level:
    """Raise ``InvalidField`` unless the area may be added as given; returns its level."""
    try:
        lvl = Level(level)
    except ValueError:
        raise InvalidField("level", f"'{level}' is not one of {', '.join(l.value for l in LEVELS)}") from None
    validate_code(code, "code", lvl)
    if not name or not name.strip():
        raise InvalidField("name", "an area needs a name")
    expected_parent = parent_code_of(code)
    if lvl is Level.PROVINCE:
        if parent_code:
            raise InvalidField("parentCode", "a province has no parent")
    else:
        if not parent_code:
            raise InvalidField("parentCode", f"a {lvl.value} needs its parent's code ({expected_parent})")
        if parent_code != expected_parent:
            raise InvalidField(
                "parentCode",
                f"code '{code}' must start with its parent's code; '{parent_code}' is not its prefix "
                f"of {LEVEL_CODE_LENGTH[LEVELS[LEVELS.index(lvl) - 1]]} digits",
            )
        if session.get(Area, parent_code) is None:
            raise InvalidField("parentCode", f"no area with code '{parent_code}'")
    if session.get(Area, code) is not None:
        raise InvalidField("code", f"an area with code '{code}' already exists")
    if grid_worker_phone is not None:
        if lvl is not Level.GRID:
            raise InvalidField("gridWorkerPhone", "only grids have a grid worker")
        validate_phone(grid_worker_phone, "gridWorkerPhone")
    return lvl


def add_area(session: Session, **fields) -> Area:
    """Validate and add one area (not committed)."""
    lvl = check_new_area(
        session,
        code=fields["code"],
        level=fields["level"],
        name=fields["name"],
        parent_code=fields.get("parent_code"),
        grid_worker_phone=fields.get("grid_worker_phone"),
    )
    area = Area(**{**fields, "level": lvl.value, "name": fields["name"].strip()})
    session.add(area)
    session.flush()
    return area
