"""The demo data set: a small, deterministic slice of Heilongjiang (黑龙江省).

Two cities from the source reports, each with two districts, two streets per district,
two communities per street and three grids per community: 96 grids, ~20 households and
~50 residents each. People are generated (valid ID numbers, plausible names), never real;
each is entered in the registry on the day they moved in, so the per-day counters have a
history to show. The counters are recounted from the rows (``db.counters_recount``).
Running it twice changes nothing: the tree is the key, and a seeded database is left alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.area import Area
from db.area_tree import add_area
from db.counters_recount import recount
from db.demo_people import make_person
from db.registry import Building, Household, HouseholdKind, PopulationKind, Resident
from db.returnee import FollowUp, Health, Returnee, ReturneeStatus, Transport

SEED = 20200125  # the day Heilongjiang started level-1 response; any fixed number would do

TREE = {
    ("23", "黑龙江省"): {
        ("2301", "哈尔滨市"): {
            ("230102", "道里区"): {
                ("230102001", "新华街道"): ["乡政社区", "通江社区"],
                ("230102002", "抚顺街道"): ["安升社区", "兆麟社区"],
            },
            ("230103", "南岗区"): {
                ("230103001", "花园街道"): ["花园社区", "联发社区"],
                ("230103002", "大成街道"): ["大成社区", "文化社区"],
            },
        },
        ("2304", "鹤岗市"): {
            ("230402", "向阳区"): {
                ("230402001", "光明街道"): ["光明社区", "胜利社区"],
                ("230402002", "北山街道"): ["北山社区", "红旗社区"],
            },
            ("230403", "工农区"): {
                ("230403001", "红军街道"): ["红军社区", "团结社区"],
                ("230403002", "育才街道"): ["育才社区", "新建社区"],
            },
        },
    }
}

GRID_NAMES = ["第一网格", "第二网格", "第三网格"]
RELATIONS = ["spouse", "child", "child", "parent", "other"]


@dataclass
class SeedReport:
    areas: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    buildings: int = 0
    households: int = 0
    residents: int = 0
    key_persons: int = 0
    returnees: int = 0
    follow_ups: int = 0
    campaigns: int = 0
    visits: int = 0
    survey_people: int = 0
    isolations: int = 0
    readings: int = 0
    skipped: bool = False
    users: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.skipped:
            return ["demo data already present: nothing changed"]
        return [
            f"areas: {self.areas} (" + ", ".join(f"{n} {lvl}" for lvl, n in self.by_level.items()) + ")",
            f"buildings: {self.buildings}",
            f"households: {self.households}",
            f"residents: {self.residents}",
            f"key persons: {self.key_persons}",
            f"returnees: {self.returnees} ({self.follow_ups} follow-ups)",
            f"survey: {self.campaigns} campaigns, {self.visits} visits, {self.survey_people} person records",
            f"isolation: {self.isolations} records, {self.readings} readings",
        ]


def _count(report: SeedReport, level: str) -> None:
    report.areas += 1
    report.by_level[level] = report.by_level.get(level, 0) + 1


def seed_demo(session: Session, *, households_per_grid: int = 20, today: date = date(2026, 1, 1)) -> SeedReport:
    """Load the demo tree and registry into an empty database; idempotent."""
    report = SeedReport()
    if session.get(Area, "23") is not None:
        report.skipped = True
        return report
    rng = random.Random(SEED)
    used_ids: set[str] = set()
    for (pcode, pname), cities in TREE.items():
        add_area(session, code=pcode, level="province", name=pname, parent_code=None)
        _count(report, "province")
        for (ccode, cname), districts in cities.items():
            add_area(session, code=ccode, level="city", name=cname, parent_code=pcode)
            _count(report, "city")
            for (dcode, dname), streets in districts.items():
                add_area(session, code=dcode, level="district", name=dname, parent_code=ccode)
                _count(report, "district")
                for (scode, sname), communities in streets.items():
                    add_area(session, code=scode, level="street", name=sname, parent_code=dcode)
                    _count(report, "street")
                    for i, comm_name in enumerate(communities, start=1):
                        comm_code = f"{scode}{i:03d}"
                        add_area(session, code=comm_code, level="community", name=comm_name, parent_code=scode)
                        _count(report, "community")
                        for g, gname in enumerate(GRID_NAMES, start=1):
                            worker = make_person(rng, dcode, min_age=25, max_age=55, today=today)
                            grid = add_area(
                                session,
                                code=f"{comm_code}{g:03d}",
                                level="grid",
                                name=f"{comm_name}{gname}",
                                parent_code=comm_code,
                                grid_worker_name=worker.name,
                                grid_worker_phone=worker.phone,
                            )
                            _count(report, "grid")
                            _seed_grid(session, rng, grid, dcode, households_per_grid, today, report, used_ids)
    session.flush()
    report.key_persons = _seed_key_persons(session, random.Random(SEED + 1), today)
    _seed_returnees(session, random.Random(SEED + 2), today, report)  # its own stream: the others' are unchanged
    _seed_survey(session, random.Random(SEED + 3), today, report)
    _seed_isolation(session, random.Random(SEED + 4), today, report)
    recount(session, fix=True)  # every declared counter, totals and per day, from the rows just written
    return report


def _seed_key_persons(session: Session, rng: random.Random, today: date) -> int:
    """The key-person ledger: each grid's eldest resident (living alone), and about 2% of the
    others with categories that fit their age; a helper and notes for most. Its own random
    stream, so the registry above stays as it was."""
    from db.key_person import KeyPerson, KeyPersonCategory as C, stored_categories

    residents = session.scalars(select(Resident).order_by(Resident.area_code, Resident.id)).all()
    eldest: dict[str, Resident] = {}
    for r in residents:
        if r.area_code not in eldest or r.birth_date < eldest[r.area_code].birth_date:
            eldest[r.area_code] = r
    chosen = {r.id: [C.ELDERLY_ALONE] for r in eldest.values()}
    for r in residents:
        if r.id in chosen or rng.random() >= 0.02:
            continue
        age = (today - r.birth_date).days // 365
        fitting = ([C.CHILD_IN_DIFFICULTY] if age < 14 else []) + ([C.PREGNANT] if r.gender == "female" and 20 <= age <= 40 else []) \
            + ([C.CHRONIC_ILLNESS, C.LIMITED_MOBILITY] if age >= 60 else []) + [C.HARDSHIP, C.DISABILITY]
        chosen[r.id] = rng.sample(fitting, k=min(len(fitting), rng.choice([1, 1, 2])))
    by_id = {r.id: r for r in residents}
    helpers = ["王秀兰", "李建华", "张志强", "刘桂英", "陈国栋", "赵丽娟"]
    for resident_id, categories in chosen.items():
        r = by_id[resident_id]
        helped = rng.random() < 0.8
        session.add(KeyPerson(
            area_code=r.area_code, resident_id=r.id, categories=stored_categories(categories),
            helper_name=rng.choice(helpers) if helped else None,
            helper_phone=f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}" if helped else None,
            since=today - timedelta(days=rng.randint(10, 400)),
            notes="每日电话问候，代购生活物资" if rng.random() < 0.6 else None))
    session.flush()
    return len(chosen)


def _seed_grid(session: Session, rng: random.Random, grid: Area, region: str, n_households: int,
               today: date, report: SeedReport, used_ids: set[str]) -> None:
    street = grid.name[:-4]
    buildings = []
    for b in range(1, 4):
        building = Building(area_code=grid.code, name=f"{b}号楼", address=f"{street}{b}号楼", units=rng.randint(2, 4),
                            floors=rng.choice([6, 7, 11, 18]))
        session.add(building)
        buildings.append(building)
    session.flush()
    report.buildings += len(buildings)
    for h in range(n_households):
        building = buildings[h % len(buildings)]
        unit = f"{rng.randint(1, building.units)}单元"
        room = f"{rng.randint(1, building.floors or 6)}0{rng.randint(1, 4)}"
        kind = rng.choices([HouseholdKind.OWNER, HouseholdKind.TENANT, HouseholdKind.COLLECTIVE], [70, 27, 3])[0]
        household = Household(area_code=grid.code, building_id=building.id, unit=unit, room=room,
                              address=f"{building.address}{unit}{room}室", kind=kind.value)
        session.add(household)
        session.flush()
        report.households += 1
        size = rng.choices([1, 2, 3, 4, 5], [20, 30, 30, 15, 5])[0]
        floating = kind is HouseholdKind.TENANT
        for m in range(size):
            person = make_person(rng, region if not floating else rng.choice(["420102", "230103", "370102"]),
                                 min_age=18 if m == 0 else 0, today=today)
            while person.id_number in used_ids:  # one resident per ID number
                person = make_person(rng, region, min_age=18 if m == 0 else 0, today=today)
            used_ids.add(person.id_number)
            resident = Resident(
                area_code=grid.code, household_id=household.id, name=person.name, gender=person.gender,
                id_number=person.id_number, birth_date=person.birth_date,
                phone=person.phone if person.birth_date < today - timedelta(days=16 * 365) else None,
                relation_to_head="head" if m == 0 else rng.choice(RELATIONS),
                population_kind=(PopulationKind.FLOATING if floating else PopulationKind.REGISTERED).value,
                # babies move in when they are born, not before (the registry refuses that)
                moved_in_on=max(today - timedelta(days=rng.randint(30, 3000)), person.birth_date),
            )
            resident.registered_on = resident.moved_in_on  # entered in the registry when they moved in
            session.add(resident)
            report.residents += 1


#: Where the demo's returnees came back from, and whether it was a key area (重点地区).
ORIGINS = [("湖北省武汉市", True), ("湖北省孝感市", True), ("广东省深圳市", False), ("北京市朝阳区", False),
           ("辽宁省大连市", False), ("浙江省温州市", True)]
NOTES = ["居家观察，情况良好", "已告知居家隔离要求", "体温偏高，已联系社区卫生服务中心", "电话随访"]


def _seed_returnees(session: Session, rng: random.Random, today: date, report: SeedReport) -> None:
    """Two ledger entries per grid: one still followed up (arrived five days ago, a follow-up
    every day since, now and then a fever), one completed a month ago."""
    from sqlalchemy import select

    grids = session.scalars(select(Area.code).where(Area.level == "grid").order_by(Area.code)).all()
    for code in grids:
        adults = session.scalars(select(Resident).where(Resident.area_code == code, Resident.birth_date
                                                        < today - timedelta(days=18 * 365)).order_by(Resident.id)).all()
        for person, (arrived_ago, status) in zip(rng.sample(adults, 2), ((5, ReturneeStatus.FOLLOWING_UP),
                                                                        (40, ReturneeStatus.COMPLETED))):
            origin, key_area = rng.choice(ORIGINS)
            transport = rng.choice(list(Transport))
            arrived = today - timedelta(days=arrived_ago)
            number = {Transport.TRAIN: f"G{rng.randint(100, 9999)}", Transport.PLANE: f"CZ{rng.randint(1000, 9999)}",
                      Transport.CAR: f"黑A{rng.randint(10000, 99999)}"}.get(transport)
            entry = Returnee(area_code=code, resident_id=person.id, origin=origin, from_key_area=key_area,
                             departed_on=arrived - timedelta(days=rng.randint(0, 2)), arrived_on=arrived,
                             transport=transport.value, transport_number=number, follow_up_days=14,
                             follow_up_until=arrived + timedelta(days=14), status=status.value)
            session.add(entry)
            session.flush()
            report.returnees += 1
            last = min(today - timedelta(days=1), entry.follow_up_until)
            for d in range((last - arrived).days + 1):
                fever = rng.random() < 0.08
                temperature = round(rng.uniform(37.4, 38.6) if fever else rng.uniform(36.0, 37.1), 1)
                session.add(FollowUp(returnee_id=entry.id, area_code=code, on=arrived + timedelta(days=d),
                                     health=(Health.FEVER if fever else Health.WELL).value, temperature=temperature,
                                     note=rng.choice(NOTES) if d % 3 == 0 else None))
                report.follow_ups += 1
    session.flush()


#: Where the survey's travellers came from; the campaigns' key areas are 湖北省 and 武汉市.
CAME_FROM = ["湖北省武汉市", "湖北省孝感市", "广东省深圳市", "北京市朝阳区", "辽宁省大连市", "浙江省温州市"]
KEY_AREAS = ("湖北省", "武汉市")


def _seed_survey(session: Session, rng: random.Random, today: date, report: SeedReport) -> None:
    """One campaign per city, started ten days ago: about 80% of households reached (some
    after a first visit found nobody home), 15% nobody home so far, 5% refused; a person
    record for every active resident of a reached household, a few percent back from
    elsewhere (most of them from a key area), a handful with a fever."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from db.counters import DEFAULT_ZONE
    from db.survey import CampaignStatus, ContactMethod as M, SurveyCampaign, SurveyPerson, SurveyVisit, \
        VisitOutcome as O

    zone = ZoneInfo(DEFAULT_ZONE)
    start = today - timedelta(days=10)
    cities = session.scalars(select(Area).where(Area.level == "city").order_by(Area.code)).all()
    for city in cities:
        campaign = SurveyCampaign(area_code=city.code, name=f"{city.name}入户排查登记", starts_on=start,
                                  status=CampaignStatus.OPEN.value, key_areas="\n".join(KEY_AREAS))
        session.add(campaign)
        session.flush()
        report.campaigns += 1
        households = session.scalars(select(Household).where(Household.area_code.like(f"{city.code}%"))
                                     .order_by(Household.id)).all()
        members: dict[int, list[Resident]] = {}
        for r in session.scalars(select(Resident).where(Resident.area_code.like(f"{city.code}%"),
                                                        Resident.status == "active").order_by(Resident.id)):
            members.setdefault(r.household_id, []).append(r)
        for household in households:
            fate = rng.random()
            day = start + timedelta(days=rng.randint(0, 8))
            if fate < 0.8:  # reached, now and then on a second visit
                outcomes = ([O.NOBODY_HOME] if rng.random() < 0.15 else []) + [O.REACHED]
            else:
                outcomes = [O.NOBODY_HOME] if fate < 0.95 else [O.REFUSED]
            for n, outcome in enumerate(outcomes):
                on = min(day + timedelta(days=n), today)
                at = datetime.combine(on, time(rng.randint(8, 18), rng.randint(0, 59)), zone)
                visit = SurveyVisit(campaign_id=campaign.id, household_id=household.id, area_code=household.area_code,
                                    visited_at=at, on=on, outcome=outcome.value, first_reach=outcome is O.REACHED,
                                    method=rng.choices(list(M), [60, 25, 8, 4, 3])[0].value)
                session.add(visit)
                report.visits += 1
                if outcome is not O.REACHED:
                    continue
                session.flush()
                for r in members.get(household.id, []):
                    travelled = rng.random() < 0.04
                    came_from = rng.choice(CAME_FROM) if travelled else None
                    arrived = on - timedelta(days=rng.randint(1, 20)) if travelled else None
                    fever = rng.random() < 0.004
                    measured = fever or rng.random() < 0.5
                    key = bool(came_from) and any(k in came_from for k in KEY_AREAS)
                    session.add(SurveyPerson(
                        campaign_id=campaign.id, visit_id=visit.id, resident_id=r.id, area_code=household.area_code,
                        on=on, came_from=came_from, from_key_area=key,
                        departed_on=arrived - timedelta(days=rng.randint(0, 1)) if arrived else None,
                        arrived_on=arrived, transport=rng.choice(list(Transport)).value if travelled else None,
                        transport_number=f"G{rng.randint(100, 9999)}" if travelled and rng.random() < 0.5 else None,
                        fever=fever, cough=fever and rng.random() < 0.5,
                        temperature=round(rng.uniform(37.4, 38.8) if fever else rng.uniform(36.0, 37.1), 1)
                        if measured else None,
                        close_contact=key and rng.random() < 0.2, under_observation=key and rng.random() < 0.5))
                    report.survey_people += 1
    session.flush()


def _seed_isolation(session: Session, rng: random.Random, today: date, report: SeedReport) -> None:
    """A central site per district; every returnee from a key area still followed up isolated
    at home with a paper seal since arrival, and one person per community at the district's
    site; two readings a day up to yesterday evening (a few fevers, the latest alerts left
    open), one record that missed yesterday evening's, and supplies every other day. The
    community's person is from its first grid, so every first grid has a record in full."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from db.counters import DEFAULT_ZONE
    from db.isolation import DoorSeal, Isolation, IsolationKind, IsolationReason, IsolationSite, SupplyDelivery, \
        TemperatureReading

    zone = ZoneInfo(DEFAULT_ZONE)
    sites = {}
    for district in session.scalars(select(Area).where(Area.level == "district").order_by(Area.code)):
        site = IsolationSite(area_code=district.code, name=f"{district.name}集中隔离点", capacity=30,
                             address=f"{district.name}人民路1号")
        session.add(site)
        sites[district.code] = site
    session.flush()
    placed = []
    for r in session.scalars(select(Returnee).where(Returnee.status == ReturneeStatus.FOLLOWING_UP.value,
                                                    Returnee.from_key_area.is_(True)).order_by(Returnee.id)):
        placed.append((r.resident_id, r.area_code, IsolationKind.HOME, IsolationReason.KEY_AREA_RETURNEE, r.arrived_on))
    taken = {p[0] for p in placed}
    for community in session.scalars(select(Area).where(Area.level == "community").order_by(Area.code)):
        candidates = session.scalars(select(Resident).where(Resident.area_code == f"{community.code}001",
                                                            Resident.status == "active").order_by(Resident.id)).all()
        person = rng.choice([c for c in candidates if c.id not in taken])
        placed.append((person.id, person.area_code, IsolationKind.CENTRAL, IsolationReason.CLOSE_CONTACT,
                       today - timedelta(days=rng.randint(2, 9))))
    readings = []
    for n, (resident_id, grid, kind, reason, starts) in enumerate(placed):
        record = Isolation(area_code=grid, resident_id=resident_id, kind=kind.value, reason=reason.value,
                           site_id=sites[grid[:6]].id if kind is IsolationKind.CENTRAL else None, starts_on=starts,
                           planned_end=starts + timedelta(days=14),
                           seal=(DoorSeal.PAPER if kind is IsolationKind.HOME else DoorSeal.NONE).value,
                           sealed_at=datetime.combine(starts, time(15, 0), zone) if kind is IsolationKind.HOME else None)
        session.add(record)
        session.flush()
        report.isolations += 1
        for d in range((today - starts).days):
            day = starts + timedelta(days=d)
            for window, hour in (("morning", 8), ("evening", 19)):
                if n == 0 and day == today - timedelta(days=1) and window == "evening":
                    continue  # the one reading missed: yesterday evening's
                fever = rng.random() < 0.03
                reading = TemperatureReading(isolation_id=record.id, area_code=grid, on=day, window=window,
                                             at=datetime.combine(day, time(hour, rng.randint(0, 50)), zone),
                                             celsius=round(rng.uniform(37.4, 38.5) if fever else rng.uniform(36.1, 37.0), 1),
                                             symptoms="乏力" if fever else None, alert=fever)
                session.add(reading)
                readings.append((record, reading))
                report.readings += 1
            if d % 2 == 0:
                session.add(SupplyDelivery(isolation_id=record.id, area_code=grid, on=day, items="米、面、蔬菜、口罩",
                                           at=datetime.combine(day, time(10, 30), zone)))
    recent = today - timedelta(days=2)
    for record, reading in readings:
        if not reading.alert:
            continue
        if reading.on < recent:
            reading.acknowledged_at = reading.at + timedelta(hours=1)
            reading.acknowledgement = "已联系社区卫生服务中心复测，体温正常"
        else:
            record.alert_open = True  # the latest fevers wait for a staff member
    session.flush()
