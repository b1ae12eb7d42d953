"""The pure authorisation core: Casbin decisions, scope compiler, masking, credentials.

No database beyond an in-memory SQLite used to evaluate compiled scope conditions; the
property test checks that what a scoped listing returns is exactly what per-row
``enforce`` would allow (DESIGN.md, "Authorisation").
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from authz.delegation import check_can_grant
from authz.enforcer import (
    ACTIONS,
    RESOURCES,
    known_roles,
    load_enforcer,
    policy_fingerprint,
    role_permissions,
)
from authz.grants import ActiveGrant, current_grants, reset_grants, set_grants, use_grants
from authz.masking import mask_address, mask_id_number, mask_name, mask_phone
from authz.passwords import hash_password, needs_rehash, verify_password
from authz.role_manager import GrantRoleManager
from authz.scope import Scope, allowed_prefixes
from authz.tokens import (
    SecretError,
    decode_token,
    issue_access_token,
    issue_refresh_token,
    load_secret,
)
from db.codes import ancestor_codes
from db.errors import Forbidden, InvalidField, Unauthenticated

ENFORCER = load_enforcer()
USER = "user:42"

PROVINCE = "23"
CITY = "2301"
DISTRICT = "230102"
STREET = "230102001"
COMMUNITY = "230102001001"
GRID = "230102001001001"
SIBLING_GRID = "230102001001002"
OTHER_PROVINCE = "24"

ALL_PAIRS = [(r, a) for r in sorted(RESOURCES) for a in sorted(ACTIONS)]


def allowed(grants: list[ActiveGrant], area: str, resource: str, action: str, subject: str = USER) -> bool:
    with use_grants(subject, grants):
        return ENFORCER.enforce(subject, area, resource, action)


# --- role manager and enforcer ------------------------------------------------------


def test_grid_worker_reads_pii_in_own_grid_only():
    grants = [ActiveGrant("grid_worker", GRID)]
    assert allowed(grants, GRID, "resident", "read_pii")
    assert allowed(grants, GRID, "resident", "create")
    assert not allowed(grants, SIBLING_GRID, "resident", "read_pii")
    assert not allowed(grants, COMMUNITY, "resident", "read_pii")
    assert not allowed(grants, GRID, "user", "read")


def test_analyst_reads_aggregates_under_province_but_no_records():
    grants = [ActiveGrant("analyst", PROVINCE)]
    for area in (PROVINCE, CITY, DISTRICT, GRID):
        assert allowed(grants, area, "aggregate", "read")
        assert allowed(grants, area, "aggregate", "export")
        assert not allowed(grants, area, "resident", "read")
        assert not allowed(grants, area, "household", "read")
    assert not allowed(grants, OTHER_PROVINCE, "aggregate", "read")
    assert not allowed(grants, "2401", "aggregate", "read")


def test_officer_reads_masked_only():
    grants = [ActiveGrant("officer", DISTRICT)]
    assert allowed(grants, GRID, "resident", "read")
    assert not allowed(grants, GRID, "resident", "read_pii")
    assert not allowed(grants, CITY, "resident", "read")
    assert allowed(grants, STREET, "aggregate", "approve")


@pytest.mark.parametrize("bad", ["", "2", "230", "2301x", "２３", " 23", None])
def test_malformed_grant_code_never_matches(bad):
    grants = [ActiveGrant("admin", bad)]
    for area in (PROVINCE, CITY, GRID, OTHER_PROVINCE):
        for resource, action in ALL_PAIRS:
            assert not allowed(grants, area, resource, action)
    assert Scope(ENFORCER, USER, grants).prefixes("resident", "read") == ()


@pytest.mark.parametrize("bad", ["", "2301x", "230", "2301%", "23010"])
def test_malformed_domain_never_matches(bad):
    grants = [ActiveGrant("admin", PROVINCE)]
    assert not allowed(grants, bad, "resident", "read")
    assert not Scope(ENFORCER, USER, grants).allows(bad, "resident", "read")


def test_subject_without_grants_is_denied_everything():
    for area in (PROVINCE, CITY, GRID):
        for resource, action in ALL_PAIRS:
            assert not allowed([], area, resource, action)
            assert not ENFORCER.enforce(USER, area, resource, action)  # nothing installed at all


def test_grants_only_answer_for_their_own_subject():
    with use_grants(USER, [ActiveGrant("admin", PROVINCE)]):
        assert ENFORCER.enforce(USER, GRID, "resident", "read")
        assert not ENFORCER.enforce("user:43", GRID, "resident", "read")
        # A subject spelled like a role is not that role (unlike Casbin's default manager).
        assert not ENFORCER.enforce("admin", GRID, "resident", "read")
        rm = ENFORCER.get_role_manager()
        assert not rm.has_link("admin", "admin", GRID)
        assert rm.has_link(USER, "admin", GRID)
        assert not rm.has_link(USER, "admin")  # no area: nothing applies
        assert rm.get_roles(USER, GRID) == ["admin"]
        assert rm.get_roles(USER, OTHER_PROVINCE) == []
    assert current_grants(USER) == ()


def test_token_api_and_nesting():
    outer = set_grants(USER, [ActiveGrant("staff", COMMUNITY)])
    try:
        with use_grants(USER, [ActiveGrant("analyst", PROVINCE)]):
            assert current_grants(USER) == (ActiveGrant("analyst", PROVINCE),)
        assert current_grants(USER) == (ActiveGrant("staff", COMMUNITY),)
        assert current_grants("user:1") == ()
    finally:
        reset_grants(outer)
    assert current_grants(USER) == ()


async def test_concurrent_tasks_do_not_share_grants():
    both_installed = asyncio.Barrier(2)

    async def request(subject: str, grants: list[ActiveGrant], area: str) -> tuple[bool, bool]:
        with use_grants(subject, grants):
            await both_installed.wait()  # the other request has installed its grants by now
            await asyncio.sleep(0)
            own = ENFORCER.enforce(subject, area, "resident", "read_pii")
            other = ENFORCER.enforce(subject, SIBLING_GRID if area == GRID else GRID, "resident", "read_pii")
            return own, other

    a, b = await asyncio.gather(
        request("user:1", [ActiveGrant("grid_worker", GRID)], GRID),
        request("user:2", [ActiveGrant("grid_worker", SIBLING_GRID)], SIBLING_GRID),
    )
    assert a == (True, False)
    assert b == (True, False)


def test_policy_file_facts():
    assert known_roles(ENFORCER) == {"analyst", "officer", "staff", "grid_worker", "supervisor", "admin"}
    admin = role_permissions(ENFORCER, "admin")
    assert role_permissions(ENFORCER, "staff") <= admin
    # a grid worker keeps the same records as community staff; what an office opens for its
    # area (a survey campaign) the community may open, the grid only reads
    staff, grid_worker = role_permissions(ENFORCER, "staff"), role_permissions(ENFORCER, "grid_worker")
    assert grid_worker <= staff
    assert {p for p in staff - grid_worker} <= {("survey_campaign", "create"), ("survey_campaign", "update")}
    assert not {p for p in admin if p[0] == "finding"}
    assert ("finding", "create") in role_permissions(ENFORCER, "supervisor")
    # the command offices read figures, areas and what names no one (tables read from below,
    # which may hold no personal column), and nothing else
    import db.models  # noqa: F401 - every declaration
    from db.registration import place_bound_tables

    nameless = {t.resource for t in place_bound_tables() if t.seen_from_below}
    analyst = role_permissions(ENFORCER, "analyst")
    assert not {p for p in analyst if p[0] not in ("area", "aggregate") and p not in {(r, "read") for r in nameless}}
    assert role_permissions(ENFORCER, "nobody") == frozenset()


def test_reload_keeps_grant_role_manager():
    enforcer = load_enforcer()
    enforcer.load_policy()
    assert isinstance(enforcer.model["g"]["g"].rm, GrantRoleManager)
    with use_grants(USER, [ActiveGrant("staff", COMMUNITY)]):
        assert enforcer.enforce(USER, GRID, "resident", "read_pii")


def test_policy_loading_guards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    good = tmp_path / "p.csv"
    good.write_text("# comment, with, commas\np, staff, resident, read\n", encoding="utf-8")
    monkeypatch.setenv("WANGGE_POLICIES", str(good))
    enforcer = load_enforcer()
    assert enforcer.get_policy() == [["staff", "resident", "read"]]
    before = policy_fingerprint(good)
    good.write_text("p, staff, resident, update\n", encoding="utf-8")
    assert policy_fingerprint(good) != before

    grouping = tmp_path / "g.csv"
    grouping.write_text("p, staff, resident, read\ng, user:1, staff, 23\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="area_grant"):
        load_enforcer(grouping)

    typo = tmp_path / "t.csv"
    typo.write_text("p, staff, resident, reed\n", encoding="utf-8")
    with pytest.raises(ValueError, match="reed"):
        load_enforcer(typo)

    with pytest.raises(FileNotFoundError):
        load_enforcer(tmp_path / "missing.csv")


# --- scope compiler -----------------------------------------------------------------


def test_prefixes_merge_nested_overlapping_and_mixed_roles():
    nested = [ActiveGrant("staff", CITY), ActiveGrant("staff", DISTRICT), ActiveGrant("staff", GRID)]
    assert allowed_prefixes(ENFORCER, USER, nested, "resident", "update") == [CITY]

    overlapping = [ActiveGrant("staff", COMMUNITY), ActiveGrant("grid_worker", GRID), ActiveGrant("staff", "240101")]
    assert allowed_prefixes(ENFORCER, USER, overlapping, "resident", "read_pii") == [COMMUNITY, "240101"]

    mixed = Scope(ENFORCER, USER, [ActiveGrant("analyst", PROVINCE), ActiveGrant("grid_worker", GRID)])
    assert mixed.prefixes("aggregate", "read") == (PROVINCE,)
    assert mixed.prefixes("aggregate", "export") == (PROVINCE,)
    assert mixed.prefixes("resident", "read_pii") == (GRID,)
    assert mixed.prefixes("finding", "read") == ()

    # A weaker role higher up does not widen a stronger one lower down, nor the reverse.
    officer_and_staff = Scope(ENFORCER, USER, [ActiveGrant("officer", DISTRICT), ActiveGrant("staff", COMMUNITY)])
    assert officer_and_staff.prefixes("resident", "read") == (DISTRICT,)
    assert officer_and_staff.prefixes("resident", "read_pii") == (COMMUNITY,)


resident_table = sa.Table(
    "resident", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("area_code", sa.String)
)


@pytest.fixture(scope="module")
def sqlite_engine():
    engine = sa.create_engine("sqlite://")
    resident_table.metadata.create_all(engine)
    yield engine
    engine.dispose()


def scoped_codes(conn: sa.Connection, scope: Scope, resource: str, action: str) -> set[str]:
    where = scope.condition(resident_table.c.area_code, resource, action)
    return set(conn.execute(sa.select(resident_table.c.area_code).where(where)).scalars())


def test_condition_is_false_without_prefix(sqlite_engine):
    scope = Scope(ENFORCER, USER, [])
    cond = scope.condition(resident_table.c.area_code, "resident", "read")
    assert str(cond.compile(dialect=postgresql.dialect())) == "false"
    officer = Scope(ENFORCER, USER, [ActiveGrant("officer", PROVINCE)])
    assert str(officer.condition(resident_table.c.area_code, "resident", "read_pii").compile()) == "false"
    with sqlite_engine.begin() as conn:
        conn.execute(resident_table.delete())
        conn.execute(resident_table.insert(), [{"area_code": c} for c in (PROVINCE, GRID, "")])
        assert scoped_codes(conn, scope, "resident", "read") == set()


def test_condition_compiles_to_inline_ranges(sqlite_engine):
    scope = Scope(ENFORCER, USER, [ActiveGrant("staff", CITY), ActiveGrant("grid_worker", "240101001001001")])
    cond = scope.condition(resident_table.c.area_code, "resident", "read")
    stmt = sa.select(resident_table.c.id).where(cond)

    pg = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert "area_code >= '2301'" in pg and "area_code < '2301~'" in pg
    # a grid is a leaf: its range is one value
    assert "area_code = '240101001001001'" in pg
    many = Scope(ENFORCER, USER, [ActiveGrant("grid_worker", f"24010100100100{i}") for i in range(1, 4)])
    many_sql = str(sa.select(resident_table.c.id).where(many.condition(resident_table.c.area_code, "resident", "read"))
                   .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert "area_code IN ('240101001001001', '240101001001002', '240101001001003')" in many_sql
    assert "LIKE" not in pg.upper() and "ANY" not in pg.upper()
    # Without literal_binds the prefixes are post-compile literals, never ordinary binds.
    default = str(stmt.compile(dialect=postgresql.dialect()))
    assert "POSTCOMPILE" in default and "%(" not in default

    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        sent.append((statement, parameters))

    sa.event.listen(sqlite_engine, "before_cursor_execute", capture)
    try:
        with sqlite_engine.begin() as conn:
            conn.execute(resident_table.delete())
            conn.execute(
                resident_table.insert(),
                [{"area_code": c} for c in (PROVINCE, CITY, GRID, "2302", "240101001001001", "240101001001002", "")],
            )
            sent.clear()
            rows = set(conn.execute(sa.select(resident_table.c.area_code).where(cond)).scalars())
    finally:
        sa.event.remove(sqlite_engine, "before_cursor_execute", capture)
    assert rows == {CITY, GRID, "240101001001001"}
    statement, parameters = sent[0]
    assert "'2301'" in statement and "'2301~'" in statement
    assert not parameters  # nothing left for a generic plan to be shared over


ROLES = sorted(known_roles(ENFORCER))
POLICY_PAIRS = sorted({(r, a) for role in ROLES for r, a in role_permissions(ENFORCER, role)})
PROPERTY_PAIRS = POLICY_PAIRS + [("finding", "delete"), ("policy", "read"), ("area", "grant")]
OUTSIDE = ["24", "2401", "240101", "240101001", "240101001001", "240101001001001"]
MALFORMED = ["", "2", "230", "23010", "2301x"]


@st.composite
def trees_and_grants(draw):
    grids = draw(
        st.lists(
            st.tuples(*(st.sampled_from(opts) for opts in (["01", "02"], ["01", "02"], ["001", "002"],
                                                           ["001", "002"], ["001", "002"]))),
            min_size=1,
            max_size=5,
        )
    )
    tree: set[str] = set(OUTSIDE)
    for parts in grids:
        code = PROVINCE + "".join(parts)
        tree.add(code)
        tree.update(ancestor_codes(code))
    areas = st.sampled_from(sorted(tree))
    grant = st.builds(
        ActiveGrant,
        role=st.sampled_from(ROLES + ["ghost"]),
        area_code=st.one_of(areas, areas, areas, st.sampled_from(MALFORMED)),
    )
    grants = draw(st.lists(grant, max_size=5))
    pairs = draw(st.lists(st.sampled_from(PROPERTY_PAIRS), min_size=1, max_size=3, unique=True))
    return sorted(tree), grants, pairs


@settings(max_examples=200, deadline=None)
@given(trees_and_grants())
def test_scope_condition_equals_per_row_enforce(sqlite_engine, case):
    # Stored rows carry well-formed codes (validated on write), so only grants may be
    # malformed here; a row coded '' must still never match.
    tree, grants, pairs = case
    rows = tree + [""]
    scope = Scope(ENFORCER, USER, grants)
    with sqlite_engine.begin() as conn:
        conn.execute(resident_table.delete())
        conn.execute(resident_table.insert(), [{"area_code": c} for c in rows])
        for resource, action in pairs:
            listed = scoped_codes(conn, scope, resource, action)
            with use_grants(USER, grants):
                enforced = {c for c in rows if ENFORCER.enforce(USER, c, resource, action)}
            assert listed == enforced, (resource, action, scope.prefixes(resource, action))
            assert listed == {c for c in tree if scope.allows(c, resource, action)}


# --- masking ------------------------------------------------------------------------


def test_masking():
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "*"
    assert mask_name(None) is None
    assert mask_id_number("23010219900101123X") == "230102********123X"
    assert mask_id_number("230102900101123") == "230102*****1123"  # 15-character legacy ID
    assert mask_id_number("12345") == "*****"
    assert mask_id_number(None) is None
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("+86 138 0000 0000") == "+86138****0000"
    assert mask_phone("0451-86123456") == "0451-****3456"
    assert mask_phone("045186123456") == "0451****3456"
    assert mask_phone("01088886666") == "010****6666"
    assert mask_phone("0757-8123456") == "0757-****456"
    assert mask_phone(None) is None
    assert mask_address("黑龙江省哈尔滨市道里区新华街道乡政社区3栋2单元501") == "黑龙江省哈尔滨市道里区新华街道****"
    assert mask_address("佛山市南海区中山路12号") == "佛山市南海区中山路****"
    assert mask_address("高殿村3组15号") == "高殿村****"
    assert mask_address("翠颐社区12栋") == "翠颐社区****"
    assert mask_address("哈尔滨市道里区某小区5栋") == "哈尔滨市道里区****"
    assert mask_address("某大厦1201") == "****"
    assert mask_address(None) is None


# --- passwords ----------------------------------------------------------------------


def test_passwords():
    stored = hash_password("网格员-2020")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "网格员-2020")
    assert not verify_password(stored, "wrong")
    assert not verify_password("not a hash", "网格员-2020")
    assert not verify_password("", "")
    assert not needs_rehash(stored)
    assert needs_rehash("not a hash")


# --- tokens -------------------------------------------------------------------------

SECRET = "s" * 40


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tokens_round_trip_and_kinds():
    access = issue_access_token(42, SECRET, session_id="sess-1")
    claims = decode_token(access, SECRET, "access")
    assert claims["sub"] == "42" and claims["sid"] == "sess-1" and claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 15 * 60
    refresh = issue_refresh_token(42, SECRET, session_id="sess-1")
    refresh_claims = decode_token(refresh, SECRET, "refresh")
    assert refresh_claims["exp"] - refresh_claims["iat"] == 14 * 24 * 3600
    assert refresh_claims["jti"] != claims["jti"]
    with pytest.raises(Unauthenticated):
        decode_token(refresh, SECRET, "access")
    with pytest.raises(Unauthenticated):
        decode_token(access, SECRET, "refresh")


def test_tokens_rejected():
    good = issue_access_token(42, SECRET, session_id="sess-1")
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_payload = _b64({**claims, "sub": "1"})
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    alg_none = _b64({"alg": "none", "typ": "JWT"}) + "." + payload + "."
    missing_sid = jwt.encode({k: v for k, v in claims.items() if k != "sid"}, SECRET, algorithm="HS256")
    bad = [
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{flipped}",
        alg_none,
        missing_sid,
        issue_access_token(42, "t" * 40, session_id="sess-1"),
        issue_access_token(42, SECRET, session_id="sess-1", ttl=timedelta(seconds=-1)),
        "not-a-token",
        "",
    ]
    messages = set()
    for token in bad:
        with pytest.raises(Unauthenticated) as err:
            decode_token(token, SECRET, "access")
        messages.add(err.value.message)
    assert len(messages) == 1  # one generic message, whatever failed


def test_load_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WANGGE_SECRET", raising=False)
    with pytest.raises(SecretError):
        load_secret(production=True)
    memory = load_secret(production=False, database_url="sqlite://")  # in memory: random, per process
    assert len(memory) >= 32 and memory != load_secret(production=False, database_url="sqlite://")
    monkeypatch.setenv("WANGGE_SECRET", "short")
    for production in (True, False):
        with pytest.raises(SecretError, match="WANGGE_SECRET"):
            load_secret(production=production)
    monkeypatch.setenv("WANGGE_SECRET", "k" * 32)
    assert load_secret(production=True) == "k" * 32


# --- delegation ---------------------------------------------------------------------


def test_delegation():
    admin = Scope(ENFORCER, USER, [ActiveGrant("admin", DISTRICT)])
    check_can_grant(admin, ENFORCER, "staff", COMMUNITY)
    check_can_grant(admin, ENFORCER, "grid_worker", GRID)
    check_can_grant(admin, ENFORCER, "analyst", DISTRICT)
    check_can_grant(admin, ENFORCER, "admin", STREET)  # equal, not stronger
    with pytest.raises(Forbidden):
        check_can_grant(admin, ENFORCER, "staff", CITY)
    with pytest.raises(Forbidden, match="finding"):
        check_can_grant(admin, ENFORCER, "supervisor", COMMUNITY)
    with pytest.raises(InvalidField):
        check_can_grant(admin, ENFORCER, "superuser", COMMUNITY)
    with pytest.raises(InvalidField):
        check_can_grant(admin, ENFORCER, "staff", "2301020")

    staff = Scope(ENFORCER, USER, [ActiveGrant("staff", COMMUNITY)])
    for role in ROLES:
        with pytest.raises(Forbidden):
            check_can_grant(staff, ENFORCER, role, GRID)

    # Rights held together: admin plus supervisor at the district may create a supervisor there.
    both = Scope(ENFORCER, USER, [ActiveGrant("admin", DISTRICT), ActiveGrant("supervisor", DISTRICT)])
    check_can_grant(both, ENFORCER, "supervisor", COMMUNITY)
