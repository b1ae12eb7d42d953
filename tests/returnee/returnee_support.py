"""Shared helpers of the returnee ledger's tests: documents, calls, and a clock to move days."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from db.counters import DEFAULT_ZONE, local_day
from db.returnee import Returnee
from db.stats import GridDayStats, GridStats
from registry_support import fresh

ERRORS = "errors { field message code }"
RETURNEE = ("id version areaCode origin fromKeyArea departedOn arrivedOn transport transportNumber followUpDays "
            "followUpUntil status removedAt removedReason resident { id name } "
            "followUps { id on health temperature note }")
FOLLOW_UP = "id on health temperature note areaCode"
INPUTS = {"openReturnee": "OpenReturneeInput", "updateReturnee": "UpdateReturneeInput",
          "recordFollowUp": "RecordFollowUpInput", "closeReturnee": "CloseReturneeInput",
          "removeReturnee": "RemoveReturneeInput"}
LIST = ("query($code: String!, $f: ReturneeFilterInput) { area(code: $code) { returnees(filter: $f, first: 50) "
        "{ totalCount edges { node { %s } } } } }" % RETURNEE)
NODE = "query($id: ID!) { node(id: $id) { ... on Returnee { %s } } }" % RETURNEE


def mutate(api, name: str, input: dict, user: str) -> dict:
    result = f"followUp {{ {FOLLOW_UP} }}" if name == "recordFollowUp" else f"returnee {{ {RETURNEE} }}"
    body = api.query(f"mutation($i: {INPUTS[name]}!) {{ {name}(input: $i) {{ {result} {ERRORS} }} }}",
                     {"i": input}, user=user)
    assert not body.get("errors"), body["errors"]
    return body["data"][name]


def listed(api, code: str, user: str, **filters) -> list[dict]:
    data = api.data(LIST, {"code": code, "f": filters or None}, user=user)
    area = data["area"]
    return [] if area is None else [e["node"] for e in area["returnees"]["edges"]]


def ids(nodes) -> set[str]:
    return {n["id"] for n in nodes}


def opening(resident_gid: str, today: date, **extra) -> dict:
    return {"residentId": resident_gid, "origin": "湖北省武汉市", "fromKeyArea": True,
            "departedOn": (today - timedelta(days=4)).isoformat(), "arrivedOn": (today - timedelta(days=3)).isoformat(),
            "transport": "TRAIN", "transportNumber": "G1234", **extra}


class Clock:
    """The deployment's local day, as commands and listings read it, set by the test."""

    def __init__(self, monkeypatch) -> None:
        self.today = local_day(DEFAULT_ZONE)
        self._patch = monkeypatch
        import resolvers.loaders as loaders
        import resolvers.unit_of_work as unit_of_work

        for module in (loaders, unit_of_work):
            monkeypatch.setattr(module, "local_day", lambda _zone, _now=None: self.today)

    def next_day(self) -> date:
        self.today += timedelta(days=1)
        return self.today


def counters(session, grid: str, day: date) -> dict[str, int]:
    fresh(session)
    following = session.scalar(select(GridStats.returnees_following).where(GridStats.area_code == grid)) or 0
    per_day = dict(session.execute(select(GridDayStats.counter, GridDayStats.n).where(
        GridDayStats.area_code == grid, GridDayStats.day == day,
        GridDayStats.counter.in_(["follow_ups", "follow_up_fevers"]))).all())
    return {"returnees_following": following, "follow_ups": per_day.get("follow_ups", 0),
            "follow_up_fevers": per_day.get("follow_up_fevers", 0)}


def ledger_rows(session) -> list[tuple]:
    fresh(session)
    return [tuple(r) for r in session.execute(select(Returnee.__table__).order_by(Returnee.id))]


def free_residents(session, grid: str) -> list:
    """Active residents of ``grid`` with no open ledger entry (the demo opened some)."""
    from db.registry import Resident
    from db.returnee import FOLLOWING
    from registry_support import rows

    taken = {r.resident_id for r in rows(session, Returnee, FOLLOWING)}
    return [r for r in rows(session, Resident, Resident.area_code == grid, Resident.status == "active")
            if r.id not in taken]
