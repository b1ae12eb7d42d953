"""Bulk generator of a large synthetic province for the benchmarks.

    python -m bench.generate --database-url postgresql://root@127.0.0.1:5432/wangge_bench --recreate
    python -m bench.generate --database-url sqlite:////tmp/wangge_bench.db --recreate --small

The schema comes from the real migrations (``db.migrate.upgrade``); rows are then
written in bulk, bypassing the ORM: PostgreSQL gets ``COPY ... FROM STDIN`` through
psycopg, SQLite gets Core ``insert()`` executemany in chunks. The tree is province
``23`` -> cities ``23NN`` -> 4 districts -> 5 streets each -> 2 communities each ->
5 grids each (200 grids per city), with nested statistical codes; grid ``i`` of ``--grids``
sits at a fixed place in that shape, so the last city may be partly filled.

Each grid gets an equal share of ``--residents`` in households of 1-5 people (owner,
tenant or collective; tenants are floating population), households in buildings of
12-48 households. Everybody is generated (``db.demo_people``): valid ID numbers with
the right check digit, unique across the table, invented names and phones. About 1% of
residents have moved away (soft removal), so counters and row counts follow the real
rules. ``grid_stats`` is written from the generated rows (all buildings and households,
active residents, active floating residents), and so is ``grid_day_stats`` (everybody
registered on the load's day, removals on their days); both are checked against
``COUNT(*)`` at the end.

Rows are written grid by grid, so residents of one grid have neighbouring ids, as they
would after a door-to-door registration drive; pass ``--interleave`` to spread each
grid's residents over the whole id range instead (ids assigned in random order).

``--workflows`` adds what the workflows would have written by the generator's TODAY
(``bench.workflows`` says what and in which shares): an open household-survey campaign per
city with its visits and person records, the key-person ledger and the returnee ledger
with its daily follow-ups, through the same bulk path, then their counters (the ledgers'
columns of ``grid_stats``, ``survey_grid_stats``, their ``grid_day_stats`` rows), and
finally every counter is recounted from the rows (``db.counters_recount.recount``): any
drift fails the run. With ``--recreate`` they follow the registry; without it they are
written onto the registry the database already holds (generated earlier, with none of
these rows yet), so a large province need not be regenerated:

    python -m bench.generate --database-url postgresql://root@127.0.0.1:5432/wangge_bench --workflows

The workflows draw from a random stream of their own (seeded from ``--seed``), so the
registry is the same with or without them, and the same registry and seed give the same
workflows whether written in one run or two.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.common  # noqa: F401,E402 - puts the repository on sys.path
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from db.area import Area  # noqa: E402
from db.demo_people import make_id_number, make_name, make_phone  # noqa: E402
from db.engine import is_sqlite, make_sync_engine, sync_url  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.registry import Building, Household, Resident  # noqa: E402
from db.counters import add_to_totals  # noqa: E402
from db.key_person import KeyPerson  # noqa: E402
from db.returnee import FollowUp, Returnee  # noqa: E402
from db.stats import GridDayStats, GridStats  # noqa: E402
from db.survey import CampaignGridStats, SurveyCampaign, SurveyPerson, SurveyVisit  # noqa: E402

SEED = 20200125
TODAY = dt.date(2026, 1, 1)
NOW = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone.utc)

DISTRICTS_PER_CITY = 4
STREETS_PER_DISTRICT = 5
COMMUNITIES_PER_STREET = 2
GRIDS_PER_COMMUNITY = 5
GRIDS_PER_CITY = DISTRICTS_PER_CITY * STREETS_PER_DISTRICT * COMMUNITIES_PER_STREET * GRIDS_PER_COMMUNITY

CITY_NAMES = ["哈尔滨市", "齐齐哈尔市", "鸡西市", "鹤岗市", "双鸭山市", "大庆市", "伊春市", "佳木斯市",
              "七台河市", "牡丹江市", "黑河市", "绥化市"]
FLOATING_FROM = ["420102", "420106", "370102", "410105", "210102", "130102", "510104"]
RELATIONS = ["spouse", "child", "child", "parent", "other"]
HOUSEHOLD_SIZES = [1, 2, 3, 4, 5]
HOUSEHOLD_SIZE_WEIGHTS = [20, 30, 30, 15, 5]
KINDS = ["owner", "tenant", "collective"]
KIND_WEIGHTS = [70, 27, 3]

SMALL = dict(residents=200_000, grids=400)
DEFAULT_GRIDS = 2_000
DEFAULT_RESIDENTS = 1_000_000

AREA_COLS = ["code", "level", "name", "parent_code", "grid_worker_name", "grid_worker_phone",
             "created_at", "updated_at", "version"]
BUILDING_COLS = ["id", "area_code", "name", "address", "units", "floors", "created_at", "updated_at", "version"]
HOUSEHOLD_COLS = ["id", "area_code", "building_id", "unit", "room", "address", "kind",
                  "created_at", "updated_at", "version"]
RESIDENT_COLS = ["id", "area_code", "household_id", "name", "gender", "id_number", "birth_date", "phone",
                 "relation_to_head", "population_kind", "moved_in_on", "status", "removed_reason", "removed_on",
                 "registered_on", "created_at", "updated_at", "version"]
STATS_COLS = ["area_code", "buildings", "households", "residents", "floating_residents"]
DAY_STATS_COLS = ["counter", "area_code", "day", "n"]


# -- the tree ---------------------------------------------------------------------------


def grid_codes(n_grids: int) -> list[tuple[str, str, str, str, str, tuple[int, ...]]]:
    """(city, district, street, community, grid) codes of grid 0..n-1, plus its position."""
    out = []
    for i in range(n_grids):
        g = i % GRIDS_PER_COMMUNITY
        c = (i // GRIDS_PER_COMMUNITY) % COMMUNITIES_PER_STREET
        s = (i // (GRIDS_PER_COMMUNITY * COMMUNITIES_PER_STREET)) % STREETS_PER_DISTRICT
        d = (i // (GRIDS_PER_COMMUNITY * COMMUNITIES_PER_STREET * STREETS_PER_DISTRICT)) % DISTRICTS_PER_CITY
        k = i // GRIDS_PER_CITY
        if k >= 99:
            raise SystemExit(f"at most {99 * GRIDS_PER_CITY} grids (99 cities of {GRIDS_PER_CITY})")
        city = f"23{k + 1:02d}"
        district = f"{city}{d + 2:02d}"  # district codes start at 02, as in the real lists
        street = f"{district}{s + 1:03d}"
        community = f"{street}{c + 1:03d}"
        grid = f"{community}{g + 1:03d}"
        out.append((city, district, street, community, grid, (k, d, s, c, g)))
    return out


def area_rows(grids, rng: random.Random) -> list[dict]:
    """Every area row, parents before children."""
    rows: dict[str, dict] = {}

    def add(code, level, name, parent, worker=None, phone=None):
        if code not in rows:
            rows[code] = dict(code=code, level=level, name=name, parent_code=parent, grid_worker_name=worker,
                              grid_worker_phone=phone, created_at=NOW, updated_at=NOW, version=1)

    add("23", "province", "黑龙江省", None)
    for city, district, street, community, grid, (k, d, s, c, g) in grids:
        city_name = CITY_NAMES[k] if k < len(CITY_NAMES) else f"第{k + 1}市"
        add(city, "city", city_name, "23")
        add(district, "district", f"{city_name[:-1]}第{d + 1}区", city)
        add(street, "street", f"第{d + 1}区第{s + 1}街道", district)
        add(community, "community", f"第{s + 1}街道第{c + 1}社区", street)
        add(grid, "grid", f"第{c + 1}社区第{g + 1}网格", community, make_name(rng), make_phone(rng))
    order = {"province": 0, "city": 1, "district": 2, "street": 3, "community": 4, "grid": 5}
    return sorted(rows.values(), key=lambda r: (order[r["level"]], r["code"]))


# -- the registry -----------------------------------------------------------------------


class Registry:
    """Generates buildings, households and residents grid by grid, with ids assigned here."""

    def __init__(self, rng: random.Random, resident_ids: list[int] | None) -> None:
        self.rng = rng
        self.used_ids: set[str] = set()
        self.next_building = 1
        self.next_household = 1
        self.next_resident = 0  # index into resident_ids, or the id itself minus one
        self.resident_ids = resident_ids
        self.stats: list[dict] = []
        self.day_stats: list[tuple] = []
        self._earliest = dt.date(1936, 1, 2).toordinal()
        self._latest_any = TODAY.toordinal()
        self._latest_adult = dt.date(TODAY.year - 18, TODAY.month, TODAY.day).toordinal()
        self._age16 = dt.date(TODAY.year - 16, TODAY.month, TODAY.day)

    def _resident_id(self) -> int:
        i = self.next_resident
        self.next_resident += 1
        return self.resident_ids[i] if self.resident_ids is not None else i + 1

    def _person(self, region: str, adult: bool):
        rng = self.rng
        birth = dt.date.fromordinal(rng.randint(self._earliest, self._latest_adult if adult else self._latest_any))
        gender = "male" if rng.random() < 0.5 else "female"
        while True:
            id_number = make_id_number(rng, region, birth, gender)
            if id_number not in self.used_ids:
                self.used_ids.add(id_number)
                return birth, gender, id_number

    def grid(self, code: str, district: str, community_name: str, quota: int,
             buildings: list, households: list, residents: list) -> None:
        rng = self.rng
        n_buildings = n_households = n_residents = n_floating = registered = 0
        removed: dict[dt.date, int] = {}
        left = quota
        room_left = 0
        building_id = units = floors = address = None
        while left > 0:
            if room_left == 0:
                building_id = self.next_building
                self.next_building += 1
                n_buildings += 1
                units = rng.randint(2, 4)
                floors = rng.choice((6, 7, 11, 18))
                address = f"{community_name}{n_buildings}号楼"
                buildings.append((building_id, code, f"{n_buildings}号楼", address, units, floors, NOW, NOW, 1))
                room_left = rng.randint(12, 48)
            room_left -= 1
            kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
            unit = f"{rng.randint(1, units)}单元"
            room = f"{rng.randint(1, floors)}0{rng.randint(1, 4)}"
            household_id = self.next_household
            self.next_household += 1
            n_households += 1
            households.append((household_id, code, building_id, unit, room, f"{address}{unit}{room}室", kind,
                               NOW, NOW, 1))
            size = min(left, rng.choices(HOUSEHOLD_SIZES, HOUSEHOLD_SIZE_WEIGHTS)[0])
            left -= size
            floating = kind == "tenant"
            for m in range(size):
                region = rng.choice(FLOATING_FROM) if floating else district
                birth, gender, id_number = self._person(region, adult=m == 0)
                moved_in = TODAY - dt.timedelta(days=rng.randint(30, 3000))
                active = rng.random() >= 0.01
                removed_on = None if active else TODAY - dt.timedelta(days=rng.randint(1, 29))
                residents.append((
                    self._resident_id(), code, household_id, make_name(rng), gender, id_number, birth,
                    make_phone(rng) if birth < self._age16 else None,
                    "head" if m == 0 else rng.choice(RELATIONS),
                    "floating" if floating else "registered", moved_in,
                    "active" if active else "moved_away",
                    None if active else "迁出本网格",
                    removed_on,
                    TODAY,  # registered_on: NOW's day in Asia/Shanghai
                    NOW, NOW, 1,
                ))
                if active:
                    n_residents += 1
                    n_floating += int(floating)
                else:
                    removed[removed_on] = removed.get(removed_on, 0) + 1
                registered += 1
        self.stats.append(dict(area_code=code, buildings=n_buildings, households=n_households,
                               residents=n_residents, floating_residents=n_floating))
        self.day_stats.append(("residents_registered", code, TODAY, registered))
        self.day_stats += [("residents_removed", code, day, n) for day, n in sorted(removed.items())]


# -- writers ----------------------------------------------------------------------------


def _copy_text(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _copy_escaped(value) -> str:
    """``_copy_text`` for the few values that may hold a newline (a campaign's key areas)."""
    out = _copy_text(value)
    return out if value is None else out.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


class PostgresWriter:
    """COPY FROM STDIN in text format (values never hold tabs, newlines or backslashes)."""

    def __init__(self, engine) -> None:
        self.raw = engine.raw_connection()
        self.conn = self.raw.driver_connection

    def rows(self, table: str, cols: list[str], rows: list, *, escape: bool = False) -> None:
        if not rows:
            return
        if isinstance(rows[0], dict):
            rows = [tuple(r[c] for c in cols) for r in rows]
        buf = io.StringIO()
        conv = _copy_escaped if escape else _copy_text
        for row in rows:
            buf.write("\t".join(conv(v) for v in row))
            buf.write("\n")
        columns = ", ".join(f'"{c}"' for c in cols)  # quoted: survey rows have a column named "on"
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(buf.getvalue())

    def add_totals(self, names: list[str], totals: dict[str, dict[str, int]]) -> None:
        """Add ``{grid: {counter: n}}`` to ``grid_stats`` (the kit's upsert, in batches)."""
        add_totals(self.conn, "postgresql", names, totals)

    def finish(self, tables=("building", "household", "resident"), vacuum: tuple[str, ...] = ()) -> None:
        """Move the id sequences of ``tables`` past the ids written, commit, then VACUUM
        ANALYZE (``vacuum``: those tables only; default the whole database)."""
        with self.conn.cursor() as cur:
            for table in tables:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
        self.conn.commit()
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {', '.join(vacuum)}" if vacuum else "VACUUM ANALYZE")
        self.raw.close()


class SqliteWriter:
    """Core ``insert()`` executemany, one transaction for the whole load."""

    TABLES = {"area": Area, "building": Building, "household": Household, "resident": Resident,
              "grid_stats": GridStats, "grid_day_stats": GridDayStats, "survey_campaign": SurveyCampaign,
              "survey_visit": SurveyVisit, "survey_person": SurveyPerson, "survey_grid_stats": CampaignGridStats,
              "key_person": KeyPerson, "returnee": Returnee, "returnee_follow_up": FollowUp}

    def __init__(self, engine) -> None:
        self.conn = engine.connect()
        self.conn.exec_driver_sql("PRAGMA synchronous=OFF")
        self.conn.exec_driver_sql("PRAGMA cache_size=-200000")
        self.conn.commit()
        self.trans = self.conn.begin()

    def rows(self, table: str, cols: list[str], rows: list, *, escape: bool = False) -> None:
        if not rows:
            return
        if not isinstance(rows[0], dict):
            rows = [dict(zip(cols, r)) for r in rows]
        self.conn.execute(insert(self.TABLES[table].__table__), rows)

    def add_totals(self, names: list[str], totals: dict[str, dict[str, int]]) -> None:
        add_totals(self.conn, "sqlite", names, totals)

    def finish(self, tables=(), vacuum: tuple[str, ...] = ()) -> None:
        self.trans.commit()
        self.conn.exec_driver_sql("ANALYZE")
        self.conn.commit()
        self.conn.close()


def add_totals(conn, dialect: str, names: list[str], totals: dict[str, dict[str, int]], batch: int = 500) -> None:
    """Add ``{grid: {counter: n}}`` to ``grid_stats``: an upsert adding to the row a grid has
    (creating it, zeros elsewhere, if it has none), as ``db.counters.add_to_totals`` does."""
    grids = sorted(totals)
    if dialect == "sqlite":
        for i in range(0, len(grids), batch):
            conn.execute(add_to_totals(dialect, {g: {n: totals[g].get(n, 0) for n in names}
                                                 for g in grids[i:i + batch]}))
        return
    columns = [c.name for c in GridStats.__table__.c if c.name != "area_code"]
    sql = (f"INSERT INTO grid_stats (area_code, {', '.join(columns)}) VALUES (%s{', %s' * len(columns)})"
           " ON CONFLICT (area_code) DO UPDATE SET "
           + ", ".join(f"{n} = grid_stats.{n} + excluded.{n}" for n in names))
    with conn.cursor() as cur:
        cur.executemany(sql, [(g, *(totals[g].get(c, 0) if c in names else 0 for c in columns)) for g in grids])


# -- database set-up --------------------------------------------------------------------


def recreate(url: str) -> None:
    """Drop and create the target database; only for names that say they are benchmarks."""
    u = make_url(sync_url(url))
    name = u.database or ""
    if "bench" not in Path(name).name:
        raise SystemExit(f"--recreate only touches databases whose name contains 'bench' (got {name!r})")
    if is_sqlite(url):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(name + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()


def verify(engine) -> dict[str, int]:
    """Counters against the rows, for the whole province; raises on any difference."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT (SELECT count(*) FROM building), (SELECT count(*) FROM household), "
            "(SELECT count(*) FROM resident WHERE status = 'active'), "
            "(SELECT count(*) FROM resident WHERE status = 'active' AND population_kind = 'floating'), "
            "(SELECT count(*) FROM resident)")).one()
        sums = conn.execute(text(
            "SELECT sum(buildings), sum(households), sum(residents), sum(floating_residents) FROM grid_stats")).one()
        days = conn.execute(text(
            "SELECT (SELECT coalesce(sum(n), 0) FROM grid_day_stats WHERE counter = 'residents_registered'), "
            "(SELECT coalesce(sum(n), 0) FROM grid_day_stats WHERE counter = 'residents_removed')")).one()
        areas = conn.execute(text("SELECT count(*) FROM area")).scalar()
    if tuple(rows[:4]) != tuple(sums):
        raise SystemExit(f"counters drifted from the rows: rows {tuple(rows[:4])} vs grid_stats {tuple(sums)}")
    if tuple(days) != (rows[4], rows[4] - rows[2]):
        raise SystemExit(f"per-day counters drifted from the rows: {tuple(days)} vs {(rows[4], rows[4] - rows[2])}")
    return dict(areas=areas, buildings=rows[0], households=rows[1], active_residents=rows[2],
                floating=rows[3], residents=rows[4])


def check_empty(engine) -> bool:
    """True for an empty database; a database holding areas is refused unless
    ``--workflows`` is to be written onto its registry (``workflows_only``)."""
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM area")).scalar()
    return not n


def generate_registry(engine, backend: str, args, n_residents: int, n_grids: int, rng) -> dict:
    """The tree and the registry, its counters, VACUUM ANALYZE and the check of the counters."""
    t_start = time.perf_counter()
    grids = grid_codes(n_grids)
    areas = area_rows(grids, rng)
    resident_ids = None
    if args.interleave:
        resident_ids = list(range(1, n_residents + 1))
        rng.shuffle(resident_ids)
    writer = PostgresWriter(engine) if backend == "postgresql" else SqliteWriter(engine)
    writer.rows("area", AREA_COLS, areas)
    names = {a["code"]: a["name"] for a in areas}

    registry = Registry(rng, resident_ids)
    base, extra = divmod(n_residents, n_grids)
    buildings: list = []
    households: list = []
    residents: list = []
    written = 0
    t_gen = t_write = 0.0

    def flush() -> None:
        nonlocal buildings, households, residents, written, t_write
        if not residents:
            return
        t0 = time.perf_counter()
        writer.rows("building", BUILDING_COLS, buildings)
        writer.rows("household", HOUSEHOLD_COLS, households)
        writer.rows("resident", RESIDENT_COLS, residents)
        t_write += time.perf_counter() - t0
        written += len(residents)
        buildings, households, residents = [], [], []
        rate = written / max(1e-9, time.perf_counter() - t_start)
        print(f"\r  {written:>10,} / {n_residents:,} residents  ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)

    for i, (_city, district, _street, community, grid, _pos) in enumerate(grids):
        t0 = time.perf_counter()
        registry.grid(grid, district, names[community], base + (1 if i < extra else 0),
                      buildings, households, residents)
        t_gen += time.perf_counter() - t0
        if len(residents) >= args.chunk:
            flush()
    flush()
    print(file=sys.stderr)
    writer.rows("grid_stats", STATS_COLS, registry.stats)
    writer.rows("grid_day_stats", DAY_STATS_COLS, registry.day_stats)
    t0 = time.perf_counter()
    writer.finish()
    t_finish = time.perf_counter() - t0
    counts = verify(engine)
    levels: dict[str, int] = {}
    for a in areas:
        levels[a["level"]] = levels.get(a["level"], 0) + 1
    return dict(counts, levels=levels, seconds=time.perf_counter() - t_start, t_gen=t_gen, t_write=t_write,
                t_finish=t_finish)


def generate_workflows(engine, backend: str, args) -> dict:
    """``bench.workflows`` onto the registry, VACUUM ANALYZE of its tables, then the recount."""
    from bench import workflows

    t_start = time.perf_counter()
    writer = PostgresWriter(engine) if backend == "postgresql" else SqliteWriter(engine)

    def progress(done: int, total: int) -> None:
        rate = done / max(1e-9, time.perf_counter() - t_start)
        print(f"\r  {done:>10,} / {total:,} households  ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)

    # a stream of its own: the registry's draws stay what they were without --workflows
    tally = workflows.write(engine, writer, random.Random(f"{args.seed}/workflows"), TODAY, NOW, args.chunk, progress)
    print(file=sys.stderr)
    t0 = time.perf_counter()
    writer.finish(workflows.TABLES, vacuum=workflows.TABLES + ("survey_grid_stats", "grid_stats", "grid_day_stats"))
    t_finish = time.perf_counter() - t0
    t_written = time.perf_counter() - t_start
    t0 = time.perf_counter()
    drift = recount_all(engine)
    t_recount = time.perf_counter() - t0
    if drift:
        raise SystemExit(f"{len(drift)} counters drifted from the rows, e.g. "
                         + "; ".join(d.describe() for d in drift[:5]))
    return dict(tally=tally, seconds=t_written, t_finish=t_finish, t_recount=t_recount)


def recount_all(engine) -> list:
    """``db.counters_recount.recount`` over every counter, on a plain session (it reads every row)."""
    from sqlalchemy.orm import Session

    from db.counters_recount import recount

    with Session(engine) as session:
        return recount(session)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True, help="sqlite:///PATH or postgresql://.../wangge_bench")
    ap.add_argument("--residents", type=int, default=None,
                    help=f"residents in total (default {DEFAULT_RESIDENTS:,})")
    ap.add_argument("--grids", type=int, default=None, help=f"grids (default {DEFAULT_GRIDS:,})")
    ap.add_argument("--small", action="store_true",
                    help=f"{SMALL['residents']:,} residents in {SMALL['grids']} grids (2 cities)")
    ap.add_argument("--recreate", action="store_true",
                    help="drop and create the database first (only names containing 'bench')")
    ap.add_argument("--interleave", action="store_true",
                    help="assign resident ids in random order instead of grid by grid")
    ap.add_argument("--workflows", action="store_true",
                    help="also write survey campaigns, visits, person records and the two ledgers; without "
                         "--recreate, onto the registry the database already holds")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--chunk", type=int, default=50_000, help="residents (person records) per write")
    args = ap.parse_args(argv)

    url = args.database_url
    backend = "sqlite" if is_sqlite(url) else "postgresql"
    n_residents = args.residents or (SMALL["residents"] if args.small else DEFAULT_RESIDENTS)
    n_grids = args.grids or (SMALL["grids"] if args.small else DEFAULT_GRIDS)
    if n_grids < 1 or n_residents < n_grids:
        raise SystemExit("need at least one grid and one resident per grid")

    t_start = time.perf_counter()
    if args.recreate:
        recreate(url)
    upgrade(url)
    engine = make_sync_engine(url)
    empty = check_empty(engine)
    if not empty and not args.workflows:
        raise SystemExit("the database already holds areas: pass --recreate (bench databases only), "
                         "or --workflows to add the workflows to its registry")
    t_schema = time.perf_counter()

    print(f"generating into {bench.common.describe_url(url)} ({backend})", flush=True)
    reg = None
    if empty:
        reg = generate_registry(engine, backend, args, n_residents, n_grids, random.Random(args.seed))
        print(f"  registry in {reg['seconds']:.1f} s")
        print(f"  areas      {reg['areas']:>10,}  (" + ", ".join(f"{n:,} {lvl}" for lvl, n in reg["levels"].items())
              + ")")
        print(f"  buildings  {reg['buildings']:>10,}")
        print(f"  households {reg['households']:>10,}")
        print(f"  residents  {reg['residents']:>10,}  ({reg['active_residents']:,} active, "
              f"{reg['floating']:,} active floating)")
        print(f"  grid_stats and grid_day_stats sums equal the row counts: yes")
        print(f"  time: migrations {t_schema - t_start:.1f} s, generating {reg['t_gen']:.1f} s, writing "
              f"{reg['t_write']:.1f} s, {'VACUUM ANALYZE' if backend == 'postgresql' else 'ANALYZE'} "
              f"{reg['t_finish']:.1f} s", flush=True)
    else:
        print("  registry: the one already there (--workflows onto it)", flush=True)
    if args.workflows:
        flows = generate_workflows(engine, backend, args)
        t = flows["tally"]
        print(f"  workflows in {flows['seconds']:.1f} s (of which "
              f"{'VACUUM ANALYZE' if backend == 'postgresql' else 'ANALYZE'} {flows['t_finish']:.1f} s)")
        print(f"  campaigns  {t['campaigns']:>10,}  (one per city, open, started {t['starts_on']})")
        print(f"  visits     {sum(v for k, v in t.items() if k.startswith('visits ')):>10,}  ("
              + ", ".join(f"{t.get('visits ' + o, 0):,} {o}" for o in ('reached', 'nobody_home', 'refused')) + ")")
        print(f"  households {t['households']:>10,}  ({t.get('households reached', 0):,} reached, "
              f"{t.get('households nobody_home', 0):,} nobody home, {t.get('households refused', 0):,} refused)")
        print(f"  person records {t.get('person records', 0):>6,}  ({t.get('from a key area', 0):,} from a key area, "
              f"{t.get('with fever', 0):,} with fever, {t.get('under observation', 0):,} under observation)")
        print(f"  key persons {t.get('key persons', 0):>9,}  (+ {t.get('key persons removed', 0):,} removed)")
        returnees = {k[len('returnees '):]: v for k, v in t.items() if k.startswith("returnees ")}
        overdue = returnees.pop("overdue", 0)
        print(f"  returnees  {sum(returnees.values()):>10,}  ("
              + ", ".join(f"{v:,} {k}" + (f" ({overdue:,} overdue)" if k == "following up" else "")
                          for k, v in sorted(returnees.items())) + ")")
        print(f"  follow-ups {t.get('follow-ups', 0):>10,}")
        print(f"  every counter recounted from the rows (db.counters_recount.recount): no drift, "
              f"in {flows['t_recount']:.1f} s")
    engine.dispose()
    print(f"generated in {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
