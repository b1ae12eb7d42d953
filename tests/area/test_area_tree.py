"""Area codes: the prefix property every scope rests on is checked wherever an area enters."""

from __future__ import annotations

import pytest

from db.area_tree import add_area
from db.codes import Level, ancestor_codes, merge_prefixes, parent_code_of, validate_code
from db.errors import InvalidField


@pytest.mark.parametrize("code, level", [
    ("23", Level.PROVINCE), ("2301", Level.CITY), ("230102", Level.DISTRICT),
    ("230102001", Level.STREET), ("230102001001", Level.COMMUNITY), ("230102001001001", Level.GRID),
])
def test_valid_codes_by_level(code, level):
    assert validate_code(code, level=level) == code


@pytest.mark.parametrize("code, reason", [
    ("", "required"),
    (None, "required"),
    ("23a", "digits only"),
    ("２３", "digits only"),  # full-width digits
    ("230", "has 3 digits"),
    ("2301020010010011", "has 16 digits"),
    (" 23", "digits only"),
])
def test_malformed_codes_are_refused(code, reason):
    with pytest.raises(InvalidField, match=reason):
        validate_code(code)


def test_code_of_the_wrong_level():
    with pytest.raises(InvalidField, match="a grid code has 15 digits"):
        validate_code("230102", level=Level.GRID)


def test_tree_helpers():
    assert parent_code_of("230102001001001") == "230102001001"
    assert parent_code_of("23") is None
    assert ancestor_codes("230102001") == ["23", "2301", "230102"]
    assert merge_prefixes(["230102001", "2301", "230402", "2301"]) == ["2301", "230402"]
    with pytest.raises(InvalidField):
        merge_prefixes(["", "23"])


@pytest.mark.parametrize("fields, field, reason", [
    (dict(code="230104", level="district", name="香坊区", parent_code="2304"), "parentCode", "must start with"),
    (dict(code="230104", level="district", name="香坊区", parent_code=None), "parentCode", "needs its parent"),
    (dict(code="2301040", level="district", name="香坊区", parent_code="2301"), "code", "has 7 digits"),
    (dict(code="2301041", level="street", name="x", parent_code="230104"), "code", "has 7 digits"),
    (dict(code="230199", level="district", name="x", parent_code="2399"), "parentCode", "must start with"),
    (dict(code="239901", level="district", name="x", parent_code="2399"), "parentCode", "no area with code '2399'"),
    (dict(code="230102", level="district", name="道里区", parent_code="2301"), "code", "already exists"),
    (dict(code="230104", level="county", name="x", parent_code="2301"), "level", "not one of"),
    (dict(code="230104", level="district", name="  ", parent_code="2301"), "name", "needs a name"),
    (dict(code="24", level="province", name="x", parent_code="23"), "parentCode", "no parent"),
    (dict(code="230102001001009", level="grid", name="x", parent_code="230102001001",
          grid_worker_phone="12345"), "gridWorkerPhone", "11 digits"),
])
def test_invalid_areas_are_refused_and_nothing_is_stored(sync_session, fields, field, reason):
    from db.area import Area

    before = sync_session.query(Area).count()
    with pytest.raises(InvalidField, match=reason) as err:
        add_area(sync_session, **fields)
    assert err.value.field == field
    sync_session.rollback()
    assert sync_session.query(Area).count() == before


def test_a_valid_area_is_added(sync_session):
    area = add_area(sync_session, code="230104", level="district", name="香坊区", parent_code="2301")
    sync_session.commit()
    assert (area.level, area.parent_code, area.version) == ("district", "2301", 1)


def test_one_resident_per_id_number(sync_session):
    from sqlalchemy.exc import IntegrityError

    from db.registry import Resident

    existing = sync_session.query(Resident).first()
    twin = Resident(area_code=existing.area_code, household_id=existing.household_id, name="重复",
                    gender=existing.gender, id_number=existing.id_number, birth_date=existing.birth_date)
    sync_session.add(twin)
    with pytest.raises(IntegrityError):
        sync_session.flush()
    sync_session.rollback()


def test_demo_data_is_deterministic_and_valid(sync_session):
    from db.registry import Resident
    from db.validators import validate_national_id, validate_phone

    residents = sync_session.query(Resident).order_by(Resident.id).all()
    assert 2000 < len(residents) < 3000
    for r in residents[:300]:
        validate_national_id(r.id_number)
        if r.phone:
            validate_phone(r.phone)
    assert residents[0].id_number == "230102197809293278"  # same seed, same people


def test_demo_residents_move_in_no_earlier_than_they_are_born(sync_session):
    from db.registry import Resident

    assert all(r.moved_in_on >= r.birth_date for r in sync_session.query(Resident))
