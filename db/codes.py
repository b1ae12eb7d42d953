"""Statistical division codes (统计用区划代码) as used for area keys.

An area's key is its *significant-digit* code: 2 digits for a province, 4 for a city,
6 for a district, 9 for a street, 12 for a community and 15 for a grid. A child's code
starts with its parent's, so "everything in this office's area" is a prefix, which both
SQLite and PostgreSQL answer as one B-tree range. Every place where a code enters the
system goes through :func:`validate_code`, because an empty or malformed prefix would
match everything.
"""

from __future__ import annotations

import enum

from db.errors import InvalidField


class Level(str, enum.Enum):
    """The six levels of the administrative tree, top to bottom."""

    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


LEVEL_CODE_LENGTH: dict[Level, int] = {
    Level.PROVINCE: 2,
    Level.CITY: 4,
    Level.DISTRICT: 6,
    Level.STREET: 9,
    Level.COMMUNITY: 12,
    Level.GRID: 15,
}
LEVELS: tuple[Level, ...] = tuple(LEVEL_CODE_LENGTH)
LENGTH_LEVEL: dict[int, Level] = {n: lvl for lvl, n in LEVEL_CODE_LENGTH.items()}

#: Sorts after every digit in the "C"/binary collation: ``code < prefix + RANGE_END``
#: closes the range of codes that start with ``prefix``.
RANGE_END = "~"


def level_of(code: str) -> Level:
    """The level a well-formed code belongs to, by its length."""
    try:
        return LENGTH_LEVEL[len(code)]
    except KeyError:
        raise InvalidField("code", f"'{code}' has {len(code)} digits; an area code has 2, 4, 6, 9, 12 or 15") from None


def validate_code(code: object, field: str = "code", level: Level | None = None) -> str:
    """Return ``code`` if it is a well-formed area code (optionally of ``level``), else raise."""
    if not isinstance(code, str) or not code:
        raise InvalidField(field, "an area code is required")
    if not code.isascii() or not code.isdigit():
        raise InvalidField(field, f"'{code}' must contain digits only")
    actual = level_of(code) if len(code) in LENGTH_LEVEL else None
    if actual is None:
        raise InvalidField(field, f"'{code}' has {len(code)} digits; an area code has 2, 4, 6, 9, 12 or 15")
    if level is not None and actual != level:
        raise InvalidField(
            field, f"a {level.value} code has {LEVEL_CODE_LENGTH[level]} digits, '{code}' has {len(code)}"
        )
    return code


def parent_code_of(code: str) -> str | None:
    """The code of the parent area, or None for a province."""
    lvl = level_of(code)
    idx = LEVELS.index(lvl)
    if idx == 0:
        return None
    return code[: LEVEL_CODE_LENGTH[LEVELS[idx - 1]]]


def ancestor_codes(code: str) -> list[str]:
    """Codes of all ancestors, from the province down to the parent."""
    out: list[str] = []
    for lvl in LEVELS:
        n = LEVEL_CODE_LENGTH[lvl]
        if n >= len(code):
            break
        out.append(code[:n])
    return out


def is_within(code: str, prefix: str) -> bool:
    """True if area ``code`` lies in the subtree of area ``prefix`` (itself included)."""
    return bool(prefix) and code.startswith(prefix)


def merge_prefixes(prefixes: set[str] | list[str]) -> list[str]:
    """Drop every prefix already covered by a shorter one; sorted, never containing ''."""
    out: list[str] = []
    for p in sorted(set(prefixes), key=lambda s: (len(s), s)):
        if not p:
            raise InvalidField("area_code", "an empty area prefix would match everything")
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return sorted(out)
