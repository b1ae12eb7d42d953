"""The key-person ledger's listing and commands (``db.key_person`` says what it holds).

Rules the issue left open, chosen here:

- one entry per resident at a time: a second ``addKeyPerson`` for a resident already in
  the ledger is refused (update that entry instead); after a removal, a new one may be
  added;
- the entry lies in its resident's grid; it is not moved when the resident moves (the
  ledger of the old grid keeps its history; the new grid adds the person again);
- the helper is a name and a phone (a neighbour, a volunteer or a staff member), not an
  account: naming an account by id would show staff names to anyone who may write here;
- ``until`` is informational for the lists (``current``); the counters count every entry
  not removed, so they move only with writes and ``check-stats`` can recount them;
- a category filter matches only where the reader may read personal data: elsewhere it
  matches nothing, as a count of "pregnant" in one household would tell who is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, false, or_, select

from db.base import utcnow
from db.errors import InvalidField
from db.key_person import KeyPerson, KeyPersonCategory, categories_of, stored_categories
from db.registry import Resident, ResidentStatus
from resolvers.listing import Listing, ListingQuery, register_listing
from resolvers.unit_of_work import UNSET, Requires, UnitOfWork, command, given, snapshot

FIELDS = ("area_code", "resident_id", "categories", "helper_name", "helper_phone", "since", "until", "notes")


@dataclass(frozen=True)
class KeyPersonFilter:
    category: str | None = None
    current: bool | None = None
    include_removed: bool = False


def _conditions(q: ListingQuery):
    flt: KeyPersonFilter = q.filters or KeyPersonFilter()
    conds = [] if flt.include_removed else [KeyPerson.removed_at.is_(None)]
    if flt.current is not None:
        now = and_(KeyPerson.since <= q.today, or_(KeyPerson.until.is_(None), KeyPerson.until >= q.today))
        conds.append(now if flt.current else ~now)
    if flt.category is not None:
        if not q.scope.prefixes("key_person", "read_pii"):
            conds.append(false())
        else:
            conds.append(and_(q.scope.condition(KeyPerson.area_code, "key_person", "read_pii"),
                              KeyPerson.categories.like(f"%,{flt.category},%")))
    return conds


KEY_PERSONS = register_listing(Listing("key_persons", KeyPerson, ("area_code", "id"), where=_conditions))


def _deltas(categories: str, sign: int) -> dict[str, int]:
    return {"key_persons": sign, **{f"key_persons_{c.value}": sign for c in categories_of(categories)}}


def _categories(c, values):
    """The stored form of the categories given; UNSET when left out of an update."""
    if values is UNSET:
        return UNSET
    if not values:
        c.fail("categories", "give at least one category")
        return None
    return stored_categories(KeyPersonCategory(getattr(v, "value", v)) for v in values)


def _dates(c, since, until) -> None:
    c.not_future(since, "since")
    c.not_before(until, since, "until", "start (since)")


@command(Requires("key_person", "create", "residentId"))
async def add_key_person(w: UnitOfWork, inp) -> KeyPerson:
    c = w.checker()
    resident_id = c.global_id(inp.resident_id, "Resident", "residentId")
    categories = _categories(c, inp.categories)
    helper_name = c.text(inp.helper_name, "helperName", 50, required=False)
    helper_phone = c.phone(inp.helper_phone, "helperPhone")
    notes = c.text(inp.notes, "notes", 500, required=False)
    since = inp.since or w.local_today
    _dates(c, since, inp.until)
    c.done()
    resident = await w.load(Resident, resident_id, "residentId")
    w.require(resident.area_code, "key_person", "create", "residentId")
    if resident.status != ResidentStatus.ACTIVE.value:
        raise InvalidField("residentId", f"only an active resident can be added; this one is {resident.status}")
    listed = await w.session.execute(select(KeyPerson.id).where(
        KeyPerson.resident_id == resident.id, KeyPerson.removed_at.is_(None)).limit(1))
    if listed.first() is not None:
        raise InvalidField("residentId", "this resident is already in the ledger; update that entry")
    row = KeyPerson(area_code=resident.area_code, resident_id=resident.id, categories=categories,
                    helper_name=helper_name, helper_phone=helper_phone, since=since, until=inp.until, notes=notes)
    await w.add(row)
    w.count(row.area_code, **_deltas(row.categories, +1))
    w.audit("key_person.add", row, {"after": snapshot(row, FIELDS)})
    return row


@command(Requires("key_person", "update", "id"))
async def update_key_person(w: UnitOfWork, inp) -> KeyPerson:
    c = w.checker()
    entry_id = c.global_id(inp.id, "KeyPerson", "id")
    changes = given(categories=_categories(c, inp.categories),
                    helper_name=c.text(inp.helper_name, "helperName", 50, required=False),
                    helper_phone=c.phone(inp.helper_phone, "helperPhone"),
                    since=c.required(inp.since, "since"), until=inp.until,
                    notes=c.text(inp.notes, "notes", 500, required=False))
    c.done()
    row = await w.load(KeyPerson, entry_id, "id")
    w.require(row.area_code, "key_person", "update", "id")
    w.check_version(row, inp.version)
    if row.removed_at is not None:
        raise InvalidField("id", "this entry was removed from the ledger")
    c = w.checker()
    _dates(c, changes.get("since", row.since), changes.get("until", row.until))
    c.done()
    before = row.categories
    diff = await w.change(row, inp.version, changes)
    if diff:
        if row.categories != before:
            moves = _deltas(row.categories, +1)
            for name, n in _deltas(before, -1).items():
                moves[name] = moves.get(name, 0) + n
            w.count(row.area_code, **{k: v for k, v in moves.items() if v})
        w.audit("key_person.update", row, diff)
    return row


@command(Requires("key_person", "update", "id"), Requires("key_person", "delete", "id"))
async def remove_key_person(w: UnitOfWork, inp) -> KeyPerson:
    c = w.checker()
    entry_id = c.global_id(inp.id, "KeyPerson", "id")
    reason = c.text(inp.reason, "reason", 200, required=True)
    c.done()
    row = await w.load(KeyPerson, entry_id, "id")
    w.require(row.area_code, "key_person", "update", "id")
    w.require(row.area_code, "key_person", "delete", "id")
    w.check_version(row, inp.version)
    if row.removed_at is not None:
        raise InvalidField("id", "this entry is already removed from the ledger")
    diff = await w.change(row, inp.version, {"removed_at": utcnow(), "removed_by": w.user.id, "removed_reason": reason})
    w.count(row.area_code, **_deltas(row.categories, -1))
    w.audit("key_person.remove", row, diff)
    return row

