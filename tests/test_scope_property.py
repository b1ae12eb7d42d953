"""Property: what the gate lets a listing return is exactly what Casbin allows row by row.

Random users get random grants on the demo tree (nested, overlapping, expired, not yet
valid, revoked). Their scope is built the way a request builds it (active grants read by
SQL, prefixes compiled once), and every table is listed through a ``ScopedSession``. The
expectation is computed independently: every grant filtered by time in Python, and
``enforcer.enforce`` asked for each row's area.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.enforcer import load_enforcer
from authz.gate import ScopedSession, gated_tables
from authz.grants import ActiveGrant, use_grants
from authz.principal import active_grants_stmt, subject_of
from authz.scope import Scope
from db.accounts import AreaGrant, User
from db.area import Area
from db.audit import AuditEvent
from db.engine import make_sync_engine
from db.registration import declared
from db.registry import Resident

ROLES = ["analyst", "officer", "staff", "grid_worker", "supervisor", "admin"]
#: Every place-bound table the gate filters, from the declarations (``db.registration``).
TABLES = gated_tables()
NOW = dt.datetime.now(dt.timezone.utc)
VALIDITY = {
    "open": (NOW - dt.timedelta(days=1), None, None),
    "until_tomorrow": (NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1), None),
    "expired": (NOW - dt.timedelta(days=10), NOW - dt.timedelta(days=1), None),
    "future": (NOW + dt.timedelta(days=1), None, None),
    "revoked": (NOW - dt.timedelta(days=1), None, NOW - dt.timedelta(hours=1)),
}
counter = itertools.count()


@pytest.fixture(scope="module")
def enforcer():
    return load_enforcer()


@pytest.fixture
def tree(sync_session):
    return sorted(sync_session.scalars(select(Area.code)).all())


def _is_active(validity: str) -> bool:
    valid_from, valid_until, revoked = VALIDITY[validity]
    return revoked is None and valid_from <= NOW and (valid_until is None or valid_until > NOW)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_listings_equal_per_row_enforce(db_url, sync_session, tree, enforcer, data):
    grants = data.draw(st.lists(
        st.tuples(st.sampled_from(ROLES), st.sampled_from(tree), st.sampled_from(sorted(VALIDITY))),
        max_size=6,
    ))
    user = User(username=f"prop_{next(counter)}", display_name="p", password_hash="x")
    sync_session.add(user)
    sync_session.flush()
    for role, code, validity in grants:
        valid_from, valid_until, revoked = VALIDITY[validity]
        sync_session.add(AreaGrant(user_id=user.id, role=role, area_code=code, valid_from=valid_from,
                                   valid_until=valid_until, revoked_at=revoked))
    sync_session.commit()

    subject = subject_of(user.id)
    active = [ActiveGrant(g.role, g.area_code) for g in sync_session.scalars(active_grants_stmt(user.id, NOW))]
    scope = Scope(enforcer, subject, active)
    expected_grants = [ActiveGrant(r, c) for r, c, v in grants if _is_active(v)]
    assert sorted(set(active), key=str) == sorted(set(expected_grants), key=str)

    @functools.cache  # the decision depends on the row's area only; ask Casbin once per area
    def allowed(code: str, resource: str, action: str = "read") -> bool:
        with use_grants(subject, expected_grants):
            return enforcer.enforce(subject, code, resource, action)

    engine = sync_session.get_bind()
    with ScopedSession(bind=engine, info={"scope": scope}) as scoped:
        for model, resource in TABLES:
            key = model.id if hasattr(model, "id") else model.area_code
            listed = set(scoped.execute(select(key, model.area_code)).all())
            everything = sync_session.execute(select(key, model.area_code)).all()
            below = declared(model).seen_from_below  # read from the areas under the row's too
            expected = {row for row in everything if row[1] is not None and (
                allowed(row[1], resource) or (below and any(allowed(c, resource) for c in tree if c.startswith(row[1]))))}
            assert listed == expected, resource
        visible_areas = set(scoped.scalars(select(Area.code)).all())
        readable = {c for c in tree if allowed(c, "area")}
        assert visible_areas == {c for c in tree if any(r.startswith(c) for r in readable)}
        for code in tree:
            for resource, action in (("resident", "read_pii"), ("resident", "update"), ("aggregate", "read")):
                by_prefix = any(code.startswith(p) for p in scope.prefixes(resource, action))
                assert by_prefix == allowed(code, resource, action) == scope.allows(code, resource, action)


def test_audit_rows_are_scoped_like_everything_else(sync_session, enforcer):
    sync_session.add_all([AuditEvent(action="x", area_code="230102001001001"), AuditEvent(action="x", area_code="230402001001001")])
    sync_session.commit()
    scope = Scope(enforcer, "user:1", [ActiveGrant("admin", "230102")])
    with ScopedSession(bind=sync_session.get_bind(), info={"scope": scope}) as scoped:
        codes = scoped.scalars(select(AuditEvent.area_code).where(AuditEvent.action == "x")).all()
    assert codes == ["230102001001001"]


def test_scoped_session_without_scope_fails_closed(sync_session):
    from authz.gate import UnscopedSession

    with ScopedSession(bind=sync_session.get_bind()) as scoped:
        with pytest.raises(UnscopedSession):
            scoped.execute(select(Resident.id).limit(1))
