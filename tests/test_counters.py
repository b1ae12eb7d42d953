"""The counter kit (``db.counters``): declared once, moved in the writer's transaction, recounted.

Every test here runs on SQLite and PostgreSQL. The registry's own counters are checked
after real mutations in ``tests/registry/test_registry_mutations.py``; these tests check the kit
itself: declarations, refusals, the per-day counters and their recount.
"""

from __future__ import annotations

from collections import Counter as Multiset
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, select, update

from db import counters
from db.accounts import User
from db.counters_recount import count_from_rows, recount
from db.registry import Building, PopulationKind, Resident, ResidentStatus
from db.stats import GridDayStats, GridStats
from registry_support import GRID, NEIGHBOUR, fresh, gid, make_id_number, mutate, rows

SHANGHAI = "Asia/Shanghai"


# -- declarations -----------------------------------------------------------------------


def test_every_total_counter_has_its_column_and_every_column_its_counter():
    """Totals live in ``grid_stats``: a column nobody declares would never be recounted."""
    import db.models  # noqa: F401 - every domain's declarations

    columns = set(GridStats.__table__.c.keys()) - {"area_code"}
    assert {c.name for c in counters.totals()} == columns
    for c in counters.per_day():
        assert isinstance(c.model.__table__.c[c.day].type, sa.Date), c


def test_the_registry_declares_its_counters():
    names = {c.name: c for c in counters.declared()}
    assert {"buildings", "households", "residents", "floating_residents"} <= set(names)
    assert names["residents_registered"].day == "registered_on"
    assert names["residents_removed"].day == "removed_on"


@pytest.mark.parametrize("args, kwargs, error", [
    (("no_such_column", Building), {}, ValueError),  # a total needs its grid_stats column
    (("residents", Resident), {"day": "removed_on"}, ValueError),  # declared already
    (("per_day_at", Resident), {"day": "created_at"}, TypeError),  # a timestamp, not a local day
    (("per_day_name", Resident), {"day": "name"}, TypeError),
    (("users", User), {}, TypeError),  # not a table with an area code
    (("Bad-Name", Resident), {"day": "removed_on"}, ValueError),
])
def test_bad_declarations_are_refused(args, kwargs, error):
    before = counters.declared()
    with pytest.raises(error):
        counters.declare(*args, **kwargs)
    assert counters.declared() == before


def test_unknown_counter_names_are_refused_before_anything_is_written():
    tally = counters.Tally()
    with pytest.raises(counters.UnknownCounter, match="no_such_counter"):
        tally.add(GRID, {"residents": 1, "no_such_counter": 1})
    with pytest.raises(ValueError, match="per day"):
        tally.add(GRID, {"residents_registered": 1})  # a per-day counter needs its day


def test_unit_of_work_count_refuses_an_unknown_counter():
    from resolvers.unit_of_work import UnitOfWork

    ctx = SimpleNamespace(session=None, user=None, settings=SimpleNamespace(timezone=SHANGHAI))
    w = UnitOfWork(ctx)
    with pytest.raises(counters.UnknownCounter):
        w.count(GRID, residents=1, resident=1)
    w.count(GRID, residents=1, residents_registered=1)  # on today's local day
    assert w._tally.days() == {(GRID, counters.local_day(SHANGHAI), "residents_registered"): 1}


def test_local_day_is_cut_in_the_zone_given():
    assert counters.local_day(SHANGHAI, datetime(2026, 3, 1, 15, 59, tzinfo=timezone.utc)) == date(2026, 3, 1)
    assert counters.local_day(SHANGHAI, datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)) == date(2026, 3, 2)
    assert counters.local_day(SHANGHAI, datetime(2026, 3, 1, 16, 0)) == date(2026, 3, 2)  # naive is UTC
    assert counters.local_day("America/New_York", datetime(2026, 3, 1, 3, 0, tzinfo=timezone.utc)) == date(2026, 2, 28)


def test_the_zone_is_a_setting_checked_at_start_up(monkeypatch, tmp_path):
    from server.settings import SettingError, Settings

    url = f"sqlite:///{tmp_path / 'zone.db'}"
    monkeypatch.delenv("WANGGE_TIMEZONE", raising=False)
    assert Settings.from_env(url).timezone == SHANGHAI
    monkeypatch.setenv("WANGGE_TIMEZONE", "Europe/Berlin")
    assert Settings.from_env(url).timezone == "Europe/Berlin"
    monkeypatch.setenv("WANGGE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingError) as refused:
        Settings.from_env(url)
    assert refused.value.field == "WANGGE_TIMEZONE" and "Mars/Olympus" in refused.value.reason


def test_moves_are_merged_and_locked_in_one_order():
    tally = counters.Tally()
    day = date(2026, 3, 2)
    tally.add(NEIGHBOUR, {"residents": 1, "residents_registered": 1}, day)
    tally.add(GRID, {"residents": -1, "floating_residents": 0, "residents_registered": -1}, day)
    tally.add(GRID, {"buildings": 1})
    tally.add(NEIGHBOUR, {"residents_removed": 1}, day)
    tally.add(NEIGHBOUR, {"residents_removed": -1}, day)  # back to zero: not written
    assert tally.totals() == {NEIGHBOUR: {"residents": 1}, GRID: {"residents": -1, "buildings": 1}}
    assert tally.days() == {(NEIGHBOUR, day, "residents_registered"): 1, (GRID, day, "residents_registered"): -1}
    totals, days = tally.statements("sqlite")  # one statement per table, whatever the grids
    for stmt in (totals, days):
        params = stmt.compile(dialect=sa.dialects.sqlite.dialect()).params
        codes = [params[f"area_code_m{i}"] for i in range(sum(k.startswith("area_code_m") for k in params))]
        assert codes == sorted(codes) == [GRID, NEIGHBOUR]  # every mover locks grids in code order


def test_two_writers_counting_the_same_new_day_both_count(db_url):
    """The first writer creates the row, the second waits for it and adds (no lost update)."""
    import threading

    from db.engine import make_sync_engine

    day, engine = date(2030, 1, 1), make_sync_engine(db_url)
    first_wrote, errors = threading.Event(), []

    def move(wait: bool) -> None:
        try:
            tally = counters.Tally()
            tally.add(GRID, {"residents_registered": 1, "residents": 1}, day)
            with engine.begin() as conn:
                if wait:
                    first_wrote.wait(5)
                for stmt in tally.statements(engine.dialect.name):
                    conn.execute(stmt)
                if not wait:
                    first_wrote.set()
                    threading.Event().wait(0.3)  # hold the rows while the second writer arrives
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with engine.connect() as conn:
        residents = conn.execute(select(GridStats.residents).where(GridStats.area_code == GRID)).scalar_one()
    threads = [threading.Thread(target=move, args=(w,)) for w in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(select(GridDayStats.n).where(GridDayStats.area_code == GRID, GridDayStats.day == day,
                                                         GridDayStats.counter == "residents_registered")).scalar() == 2
        assert conn.execute(select(GridStats.residents).where(GridStats.area_code == GRID)).scalar_one() == residents + 2
    engine.dispose()


# -- recount: a counter declared here ---------------------------------------------------


@pytest.fixture
def floating_arrivals():
    """A throwaway per-day counter on an existing table: floating residents by the day they moved in."""
    c = counters.declare("test_floating_arrivals", Resident,
                         Resident.population_kind == PopulationKind.FLOATING.value, day="moved_in_on")
    yield c
    counters.forget(c.name)


def _by_hand(session) -> Multiset:
    found = Multiset()
    for r in session.scalars(select(Resident)):
        if r.population_kind == PopulationKind.FLOATING.value and r.moved_in_on is not None:
            found[(r.area_code, r.moved_in_on)] += 1
    return found


def test_a_counter_declared_in_a_test_is_recounted_moved_and_fixed(sync_session, floating_arrivals):
    expected = _by_hand(sync_session)
    assert expected  # the demo has floating residents
    counted = count_from_rows(sync_session)
    assert {k: v[floating_arrivals.name] for k, v in counted.items() if floating_arrivals.name in v} == dict(expected)

    drift = [d for d in recount(sync_session) if d.counter == floating_arrivals.name]
    assert {(d.area_code, d.day): d.actual for d in drift} == dict(expected)
    assert all(d.stored is None for d in drift)  # never stored: the seed did not know this counter
    assert recount(sync_session, fix=True)
    sync_session.commit()
    assert recount(fresh(sync_session)) == []
    stored = sync_session.execute(select(GridDayStats.area_code, GridDayStats.day, GridDayStats.n)
                                  .where(GridDayStats.counter == floating_arrivals.name)).all()
    assert {(a, d): n for a, d, n in stored} == dict(expected)

    # moved like any counter, in the writer's transaction: one more arrival that no row explains
    (grid, day), n = sorted(expected.items())[0]
    tally = counters.Tally()
    tally.add(grid, {floating_arrivals.name: 1}, day)
    for stmt in tally.statements(sync_session.get_bind().dialect.name):
        sync_session.execute(stmt)
    sync_session.commit()
    (d,) = recount(fresh(sync_session))
    assert (d.area_code, d.day, d.counter, d.stored, d.actual) == (grid, day, floating_arrivals.name, n + 1, n)


# -- recount: the registry's per-day counters -------------------------------------------


def test_per_day_drift_is_found_and_fixed(sync_session, db_url, capsys):
    from server.cli import main

    def n_of(grid, day, name="residents_registered"):
        return sync_session.scalars(select(GridDayStats.n).where(
            GridDayStats.counter == name, GridDayStats.area_code == grid, GridDayStats.day == day)).first()

    assert recount(sync_session) == []
    first = min(r.registered_on for r in rows(sync_session, Resident, Resident.area_code == GRID))
    was = n_of(GRID, first)
    sync_session.execute(update(GridDayStats).values(n=GridDayStats.n + 2).where(
        GridDayStats.counter == "residents_registered", GridDayStats.area_code == GRID, GridDayStats.day == first))
    sync_session.execute(delete(GridDayStats).where(
        GridDayStats.counter == "residents_registered", GridDayStats.area_code == NEIGHBOUR))
    sync_session.add(GridDayStats(counter="residents_removed", area_code=GRID, day=date(2001, 1, 1), n=5))
    sync_session.commit()

    drift = recount(fresh(sync_session))
    neighbour = Multiset(r.registered_on for r in rows(sync_session, Resident, Resident.area_code == NEIGHBOUR))
    assert {(d.area_code, d.day, d.counter): (d.stored, d.actual) for d in drift} == {
        (GRID, first, "residents_registered"): (was + 2, was),
        (GRID, date(2001, 1, 1), "residents_removed"): (5, 0),
        **{(NEIGHBOUR, day, "residents_registered"): (None, n) for day, n in neighbour.items()},
    }
    assert [d.area_code for d in drift] == sorted(d.area_code for d in drift)

    assert main(["check-stats", "--database-url", db_url]) == 1
    out = capsys.readouterr().out
    assert f"{GRID} {first.isoformat()} residents_registered: stored {was + 2}, counted {was}" in out
    assert f"{len(drift)} counter(s) drifted" in out
    assert main(["check-stats", "--database-url", db_url, "--fix"]) == 0
    assert main(["check-stats", "--database-url", db_url]) == 0
    assert "counters match the rows" in capsys.readouterr().out
    fresh(sync_session)
    assert n_of(GRID, first) == was
    assert dict(sync_session.execute(select(GridDayStats.day, GridDayStats.n).where(
        GridDayStats.counter == "residents_registered", GridDayStats.area_code == NEIGHBOUR)).all()) == dict(neighbour)
    assert n_of(GRID, date(2001, 1, 1), "residents_removed") is None  # a row that counts nothing is removed


def test_per_day_counts_are_recounted_slice_by_slice_without_a_gap(sync_session, monkeypatch):
    from db import counters_recount
    from db.area import Area

    whole = count_from_rows(sync_session, counters=counters.per_day())
    monkeypatch.setattr(counters_recount, "SLICE_GRIDS", 7)
    parts = counters_recount.slices(sync_session)
    assert len(parts) > 5 and parts[0][0] is None and parts[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))  # each slice starts where the last ended
    merged = {}
    for low, high in parts:
        merged.update(count_from_rows(sync_session, low, high, counters.per_day()))
    assert merged == whole

    grids = sync_session.scalars(select(Area.code).where(Area.level == "grid").order_by(Area.code)).all()
    edge = [grids[0], grids[7], grids[-1]]  # the first grid, one that opens a slice, the last
    sync_session.execute(delete(GridDayStats).where(GridDayStats.area_code.in_(edge)))
    sync_session.commit()
    assert {d.area_code for d in recount(fresh(sync_session))} == set(edge)
    recount(sync_session, fix=True)
    sync_session.commit()
    assert recount(fresh(sync_session)) == []


def test_mutations_book_registrations_and_removals_on_their_days(api, sync_session):
    from db.registry import Household

    today = counters.local_day(SHANGHAI)
    household = rows(sync_session, Household, Household.area_code == GRID)[0]

    def n_of(grid, day, name):
        fresh(sync_session)
        return sync_session.scalars(select(GridDayStats.n).where(
            GridDayStats.counter == name, GridDayStats.area_code == grid, GridDayStats.day == day)).first() or 0

    before = n_of(GRID, today, "residents_registered")
    out = mutate(api, "createResident", {"householdId": gid("Household", household.id), "name": "新来",
                                         "idNumber": make_id_number(11)}, "grid_worker")
    assert out["errors"] == []
    (created,) = rows(sync_session, Resident, Resident.name == "新来")
    assert created.registered_on == today
    assert n_of(GRID, today, "residents_registered") == before + 1

    removed_on = today - timedelta(days=3)
    removed_before = n_of(GRID, removed_on, "residents_removed")
    out = mutate(api, "removeResident", {"id": gid("Resident", created.id), "version": created.version,
                                         "status": "MOVED_AWAY", "reason": "迁出", "removedOn": removed_on.isoformat()},
                 "grid_worker")
    assert out["errors"] == []
    assert n_of(GRID, removed_on, "residents_removed") == removed_before + 1  # on the day the client gave

    other = rows(sync_session, Resident, Resident.area_code == GRID,
                 Resident.status == ResidentStatus.ACTIVE.value)[0]
    target = rows(sync_session, Household, Household.area_code == NEIGHBOUR)[0]
    at_grid, at_neighbour = (n_of(GRID, other.registered_on, "residents_registered"),
                             n_of(NEIGHBOUR, other.registered_on, "residents_registered"))
    out = mutate(api, "moveResident", {"id": gid("Resident", other.id), "version": other.version,
                                       "householdId": gid("Household", target.id)}, "community_staff")
    assert out["errors"] == []
    assert n_of(GRID, other.registered_on, "residents_registered") == at_grid - 1
    assert n_of(NEIGHBOUR, other.registered_on, "residents_registered") == at_neighbour + 1
    assert recount(fresh(sync_session)) == []


# -- the migration ----------------------------------------------------------------------


def test_migration_0003_backfills_registration_days_and_day_counters(empty_db_url, monkeypatch):
    """Rows written before 0003 get the local day of ``created_at`` and counters that match them."""
    from sqlalchemy.orm import Session

    from db.engine import make_sync_engine
    from db.migrate import upgrade

    monkeypatch.delenv("WANGGE_TIMEZONE", raising=False)
    upgrade(empty_db_url, "0002")
    engine = make_sync_engine(empty_db_url)
    at = {"created_at": datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc), "version": 1}
    at["updated_at"] = at["created_at"]
    late = datetime(2026, 3, 1, 16, 30, tzinfo=timezone.utc)  # 00:30 on 2 March in Shanghai
    person = dict(gender="male", birth_date=date(1985, 4, 12), relation_to_head="head", population_kind="registered")
    with engine.begin() as conn:
        meta = sa.MetaData()
        meta.reflect(conn, only=["area", "household", "resident"])
        area, household, resident = (meta.tables[t] for t in ("area", "household", "resident"))
        conn.execute(area.insert(), [dict(code=GRID, level="grid", name="网格", **at)])
        conn.execute(household.insert(), [dict(id=1, area_code=GRID, address="一号", kind="owner", **at)])
        conn.execute(resident.insert(), [
            dict(id=1, area_code=GRID, household_id=1, name="甲", id_number=make_id_number(1), status="active",
                 removed_on=None, **person, **at),
            dict(id=2, area_code=GRID, household_id=1, name="乙", id_number=make_id_number(2), status="moved_away",
                 removed_on=date(2026, 3, 5), **person, **{**at, "created_at": late}),
        ])
    engine.dispose()
    upgrade(empty_db_url)
    engine = make_sync_engine(empty_db_url)
    with Session(engine) as session:
        assert dict(session.execute(select(Resident.id, Resident.registered_on)).all()) == {
            1: date(2026, 3, 1), 2: date(2026, 3, 2)}
        stored = {(c, d): n for c, d, n in session.execute(
            select(GridDayStats.counter, GridDayStats.day, GridDayStats.n))}
        assert stored == {("residents_registered", date(2026, 3, 1)): 1, ("residents_registered", date(2026, 3, 2)): 1,
                          ("residents_removed", date(2026, 3, 5)): 1}
        assert {d.counter for d in recount(session)} <= {c.name for c in counters.totals()}  # no grid_stats rows yet
    engine.dispose()


# -- totals of a part (per=) ------------------------------------------------------------


def test_a_parts_counters_need_their_table_and_column():
    import db.models  # noqa: F401
    from db.survey import CampaignGridStats, SurveyVisit

    before = counters.declared()
    with pytest.raises(ValueError):  # no table counted per this column
        counters.declare("visits_per_household", SurveyVisit, per="household_id")
    with pytest.raises(ValueError):  # the part's table has no such column
        counters.declare("campaign_nothing", SurveyVisit, per="campaign_id")
    with pytest.raises(ValueError):  # a part's counters are totals
        counters.declare("campaign_visits_daily", SurveyVisit, day="on", per="campaign_id")
    with pytest.raises(TypeError):  # the key must be (part, area_code)
        counters.counted_per("area_code")(CampaignGridStats)
    assert counters.declared() == before
    assert {c.name for c in counters.of_part("campaign_id")} == set(CampaignGridStats.__table__.c.keys()) - {
        "campaign_id", "area_code"}


def test_a_parts_moves_need_the_part_and_lock_between_totals_and_days():
    import db.models  # noqa: F401

    tally = counters.Tally()
    with pytest.raises(ValueError):
        tally.add(GRID, {"campaign_visits": 1}, date(2026, 1, 1))
    tally.add(NEIGHBOUR, {"campaign_visits": 1}, date(2026, 1, 1), part=2)
    tally.add(GRID, {"campaign_visits": 1, "campaign_households": 1, "survey_visits": 1, "residents": 1},
              date(2026, 1, 1), part=1)
    assert tally.parts("campaign_id") == {(2, NEIGHBOUR): {"campaign_visits": 1},
                                          (1, GRID): {"campaign_visits": 1, "campaign_households": 1}}
    tables = [stmt.table.name for stmt in tally.statements("postgresql")]
    assert tables == ["grid_stats", "survey_grid_stats", "grid_day_stats"]


def test_a_parts_drift_is_found_and_fixed(sync_session):
    from db.survey import CampaignGridStats

    row = sync_session.scalars(select(CampaignGridStats).order_by(CampaignGridStats.area_code)).first()
    sync_session.execute(update(CampaignGridStats).where(
        CampaignGridStats.campaign_id == row.campaign_id, CampaignGridStats.area_code == row.area_code).values(
        campaign_people=CampaignGridStats.campaign_people + 2))
    sync_session.execute(delete(CampaignGridStats).where(CampaignGridStats.area_code == NEIGHBOUR))
    drift = recount(sync_session)
    moved = [d for d in drift if d.part == ("campaign_id", row.campaign_id) and d.area_code == row.area_code]
    assert [(d.counter, d.stored - d.actual) for d in moved] == [("campaign_people", 2)]
    assert any(d.area_code == NEIGHBOUR and d.stored is None and d.part for d in drift)
    assert "campaign_id=" in moved[0].describe()
    recount(sync_session, fix=True)
    sync_session.commit()
    assert recount(fresh(sync_session)) == []
