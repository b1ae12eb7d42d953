"""Scope tests generated for every registered resource, from the declarations alone.

For each GraphQL node type over a place-bound table (``db.registration``), and for each
connection field over a registered listing (``schema.paging.listing_field``): what a user
gets through HTTP is what Casbin allows row by row. Nothing here names a domain, so a new
domain's types and lists are covered the day they are declared (the idea of NetBox's
per-model permission test cases, on our own users and grants).
"""

from __future__ import annotations

import functools
import typing
from datetime import datetime, timezone

import pytest
from conftest import global_id
from sqlalchemy import func, select
from strawberry.relay import from_base64

from authz.enforcer import load_enforcer
from authz.grants import ActiveGrant, use_grants
from authz.principal import active_grants_stmt, subject_of
from db.accounts import User
from db.area import Area
from db.registration import declared

USERS = ["grid_worker", "community_staff", "city_officer", "supervisor", "province_analyst", "district_admin"]
PROVINCE = "23"


def _types():
    from server.graphql_schema import schema

    for definition in schema.schema_converter.type_map.values():
        d = definition.definition
        if getattr(d, "origin", None) is not None and hasattr(d, "fields"):
            yield d


def _row_model(cls):
    try:
        row = typing.get_type_hints(cls, include_extras=True).get("row")
    except Exception:  # noqa: BLE001 - a type without resolvable hints wraps no row
        return None
    args = typing.get_args(row) if row is not None else ()
    return args[0] if args else None


def node_types() -> list[tuple[str, type]]:
    """(GraphQL type, table) of every Relay node over a declared place-bound table but areas."""
    from strawberry import relay

    out = []
    for d in _types():
        model = _row_model(d.origin)
        table = declared(model) if model is not None else None
        if table is not None and table.column == "area_code" and issubclass(d.origin, relay.Node):
            out.append((d.name, model))
    return sorted(out, key=lambda t: t[0])


def listing_fields() -> list[tuple[str, str, object]]:
    """(owner type, GraphQL field, listing) of every connection over a listing under an area."""
    from server.graphql_schema import schema

    out = []
    for d in _types():
        for f in d.fields:
            listing = getattr(getattr(f.base_resolver, "wrapped_func", None), "listing", None) if f.base_resolver else None
            if listing is not None and listing.under_area:
                out.append((d.name, schema.config.name_converter.get_graphql_name(f), listing))
    return sorted(out, key=lambda t: (t[0], t[1]))


def test_the_registry_is_covered():
    assert {"Building", "Household", "Resident"} <= {n for n, _ in node_types()}
    assert {("Area", "residents"), ("Area", "households"), ("Area", "buildings")} <= {(t, f) for t, f, _ in listing_fields()}


@functools.cache
def _enforcer():
    return load_enforcer()


def _allowed(session, username: str):
    uid = session.scalar(select(User.id).where(User.username == username))
    grants = [ActiveGrant(g.role, g.area_code) for g in session.scalars(active_grants_stmt(uid, datetime.now(timezone.utc)))]
    subject, enforcer = subject_of(uid), _enforcer()

    @functools.cache
    def allowed(area_code: str, resource: str) -> bool:
        with use_grants(subject, grants):
            return bool(enforcer.enforce(subject, area_code, resource, "read"))

    return allowed


def _visible(session, allowed, model):
    """Whether a row of ``model`` at an area is readable: Casbin allows it there, or, for a
    table read from below (``seen_from_below``), anywhere under it."""
    resource, below = declared(model).resource, declared(model).seen_from_below
    tree = session.scalars(select(Area.code)).all() if below else []

    @functools.cache
    def visible(area_code: str) -> bool:
        return allowed(area_code, resource) or any(allowed(c, resource) for c in tree if c.startswith(area_code))

    return visible


@pytest.mark.parametrize("type_name,model", node_types(), ids=lambda v: v if isinstance(v, str) else "")
def test_node_by_id_is_null_outside_the_scope_and_found_inside(api, sync_session, type_name, model):
    query = "query($id: ID!) { node(id: $id) { id } }"
    areas = [a for (a,) in sync_session.execute(select(model.area_code).group_by(model.area_code))]
    for user in USERS:
        visible = _visible(sync_session, _allowed(sync_session, user), model)
        inside = next((a for a in areas if visible(a)), None)
        outside = next((a for a in areas if not visible(a)), None)
        for area, visible in ((inside, True), (outside, False)):
            if area is None:
                continue
            row_id = sync_session.scalar(select(model.id).where(model.area_code == area).limit(1))
            node = api.data(query, {"id": global_id(type_name, row_id)}, user=user)["node"]
            assert (node is not None) == visible, (user, type_name, area)


@pytest.mark.parametrize("owner,field,listing", [f for f in listing_fields() if f[0] == "Area"],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_a_listing_counts_exactly_the_rows_casbin_allows(api, sync_session, owner, field, listing):
    # (listings under other types, such as a campaign's households not reached, are reached
    # through their parent and covered by their domain's tests)
    model = listing.model
    per_area = dict(sync_session.execute(select(model.area_code, func.count()).group_by(model.area_code)).all())
    query = "query($code: String!) { area(code: $code) { %s(first: 5) { totalCount edges { node { id } } } } }" % field
    for user in USERS:
        visible = _visible(sync_session, _allowed(sync_session, user), model)
        expected = sum(n for area, n in per_area.items() if area.startswith(PROVINCE) and visible(area))
        area = api.data(query, {"code": PROVINCE}, user=user)["area"]
        assert area is not None, user
        assert area[field]["totalCount"] == expected, (user, field)
        assert len(area[field]["edges"]) == min(5, expected)
        ids = [int(from_base64(e["node"]["id"])[1]) for e in area[field]["edges"]]
        shown = sync_session.execute(select(model.area_code).where(model.id.in_(ids))).scalars().all()
        assert len(shown) == len(ids) and all(visible(a) for a in shown), (user, field)
