"""The key-person ledger over HTTP: the story of a grid and what each office sees of it.

A grid worker enters residents of the grid, corrects an entry, removes one; community
staff find them by category; a city officer sees the entries masked (no categories, no
helper's contact, no notes) and a category filter that matches nothing; the province's
analyst sees none; the neighbouring grid's entries are neither readable nor changeable by
the grid worker. The counters follow every write and recount clean.
"""

from __future__ import annotations

from sqlalchemy import select

from conftest import global_id
from db.counters_recount import recount
from db.key_person import KeyPerson
from db.stats import GridStats
from registry_support import GRID, NEIGHBOUR, fresh, rows
from db.registry import Resident

PAYLOAD = "keyPerson { id version areaCode categories helperName helperPhone notes since until removedAt } errors { field message code }"
ADD = "mutation($i: AddKeyPersonInput!) { addKeyPerson(input: $i) { %s } }" % PAYLOAD
UPDATE = "mutation($i: UpdateKeyPersonInput!) { updateKeyPerson(input: $i) { %s } }" % PAYLOAD
REMOVE = "mutation($i: RemoveKeyPersonInput!) { removeKeyPerson(input: $i) { %s } }" % PAYLOAD
LIST = """query($code: String!, $f: KeyPersonFilterInput) { area(code: $code) {
  keyPersons(first: 100, filter: $f) { totalCount edges { node { id categories helperName helperPhone notes
    resident { id name } } } } } }"""


def _residents_without_entry(session, grid: str) -> list[Resident]:
    fresh(session)
    listed = set(session.scalars(select(KeyPerson.resident_id)))
    return [r for r in rows(session, Resident, Resident.area_code == grid, Resident.status == "active")
            if r.id not in listed]


def _counters(session, grid: str) -> dict[str, int]:
    fresh(session)
    g = session.scalars(select(GridStats).where(GridStats.area_code == grid)).one()
    return {k: getattr(g, k) for k in ("key_persons", "key_persons_chronic_illness", "key_persons_hardship",
                                       "key_persons_disability")}


def _codes(payload) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def test_the_story_of_a_grid(api, sync_session):
    resident = _residents_without_entry(sync_session, GRID)[0]
    before = _counters(sync_session, GRID)

    out = api.data(ADD, {"i": {"residentId": global_id("Resident", resident.id), "categories": ["CHRONIC_ILLNESS", "HARDSHIP"],
                               "helperName": "王秀兰", "helperPhone": "13800001111", "notes": "每日电话问候"}},
                   user="grid_worker")["addKeyPerson"]
    assert out["errors"] == [], out
    entry = out["keyPerson"]
    assert sorted(entry["categories"]) == ["CHRONIC_ILLNESS", "HARDSHIP"] and entry["helperPhone"] == "13800001111"
    after = _counters(sync_session, GRID)
    assert after["key_persons"] == before["key_persons"] + 1
    assert after["key_persons_chronic_illness"] == before["key_persons_chronic_illness"] + 1
    assert after["key_persons_hardship"] == before["key_persons_hardship"] + 1

    # A second entry for the same person is refused; correct the first instead.
    again = api.data(ADD, {"i": {"residentId": global_id("Resident", resident.id), "categories": ["DISABILITY"]}},
                     user="grid_worker")["addKeyPerson"]
    assert _codes(again) == [("residentId", "BAD_USER_INPUT")] and again["keyPerson"] is None

    changed = api.data(UPDATE, {"i": {"id": entry["id"], "version": entry["version"], "categories": ["DISABILITY"]}},
                       user="grid_worker")["updateKeyPerson"]
    assert changed["errors"] == [] and changed["keyPerson"]["categories"] == ["DISABILITY"]
    moved = _counters(sync_session, GRID)
    assert moved["key_persons"] == after["key_persons"]
    assert moved["key_persons_disability"] == after["key_persons_disability"] + 1
    assert moved["key_persons_hardship"] == before["key_persons_hardship"]
    stale = api.data(UPDATE, {"i": {"id": entry["id"], "version": entry["version"], "notes": "x"}},
                     user="grid_worker")["updateKeyPerson"]
    assert _codes(stale) == [("version", "CONFLICT")]

    # Community staff find the person by category; the city officer sees the entry, masked.
    by_category = api.data(LIST, {"code": GRID, "f": {"category": "DISABILITY"}}, user="community_staff")
    assert entry["id"] in [e["node"]["id"] for e in by_category["area"]["keyPersons"]["edges"]]
    masked = api.data(LIST, {"code": GRID}, user="city_officer")["area"]["keyPersons"]["edges"]
    mine = next(e["node"] for e in masked if e["node"]["id"] == entry["id"])
    assert mine["categories"] is None and mine["helperName"] == "王**" and mine["helperPhone"] == "138****1111"
    assert mine["notes"] == "****" and mine["resident"]["name"].endswith("*")
    officer_filtered = api.data(LIST, {"code": GRID, "f": {"category": "DISABILITY"}}, user="city_officer")
    assert officer_filtered["area"]["keyPersons"]["totalCount"] == 0  # no oracle on a hidden category
    analyst = api.data(LIST, {"code": GRID}, user="province_analyst")["area"]
    assert analyst is None or analyst["keyPersons"]["totalCount"] == 0

    removed = api.data(REMOVE, {"i": {"id": entry["id"], "version": changed["keyPerson"]["version"],
                                      "reason": "随子女迁居"}}, user="grid_worker")["removeKeyPerson"]
    assert removed["errors"] == [] and removed["keyPerson"]["removedAt"] is not None
    assert _counters(sync_session, GRID) == before
    listed = api.data(LIST, {"code": GRID}, user="grid_worker")["area"]["keyPersons"]["edges"]
    assert entry["id"] not in [e["node"]["id"] for e in listed]
    history = api.data(LIST, {"code": GRID, "f": {"includeRemoved": True}}, user="grid_worker")
    assert entry["id"] in [e["node"]["id"] for e in history["area"]["keyPersons"]["edges"]]
    assert recount(fresh(sync_session)) == []


def test_every_bad_field_is_named_at_once_and_nothing_is_written(api, sync_session):
    resident = _residents_without_entry(sync_session, GRID)[0]
    out = api.data(ADD, {"i": {"residentId": global_id("Resident", resident.id), "categories": [],
                               "helperPhone": "12345", "since": "2099-01-01", "until": "2098-01-01",
                               "notes": "x" * 501}}, user="grid_worker")["addKeyPerson"]
    assert sorted(f for f, _ in _codes(out)) == ["categories", "helperPhone", "notes", "since", "until"]
    assert {c for _, c in _codes(out)} == {"BAD_USER_INPUT"}
    fresh(sync_session)
    assert sync_session.scalars(select(KeyPerson).where(KeyPerson.resident_id == resident.id)).first() is None


def test_the_neighbouring_grid_is_neither_readable_nor_changeable(api, sync_session):
    theirs = rows(sync_session, KeyPerson, KeyPerson.area_code == NEIGHBOUR)[0]
    seen = api.data(LIST, {"code": NEIGHBOUR}, user="grid_worker")["area"]
    assert seen is None or seen["keyPersons"]["totalCount"] == 0
    node = api.data("query($id: ID!) { node(id: $id) { id } }", {"id": global_id("KeyPerson", theirs.id)},
                    user="grid_worker")["node"]
    assert node is None
    out = api.data(UPDATE, {"i": {"id": global_id("KeyPerson", theirs.id), "version": theirs.version, "notes": "x"}},
                   user="grid_worker")["updateKeyPerson"]
    assert _codes(out) == [("id", "NOT_FOUND")]
    after = rows(sync_session, KeyPerson, KeyPerson.id == theirs.id)[0]
    assert (after.version, after.notes) == (theirs.version, theirs.notes)
