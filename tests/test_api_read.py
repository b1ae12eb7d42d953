"""The read API over HTTP: walking the tree, each demo user's view, pages, node ids, errors."""

from __future__ import annotations


import pytest

from conftest import global_id

GRID = "230102001001001"
NEIGHBOUR_GRID = "230102001001002"


def walk_query(depth: int, leaf: str) -> str:
    inner = leaf
    for _ in range(depth):
        inner = "code name level children(first: 50) { totalCount edges { node { %s } } }" % inner
    return '{ area(code: "23") { %s } }' % inner


def grid_nodes(area: dict) -> list[dict]:
    """All leaves of a walked tree (areas without a children key)."""
    if "children" not in area:
        return [area]
    return [g for e in area["children"]["edges"] for g in grid_nodes(e["node"])]


def test_province_to_resident_in_one_query(api):
    leaf = "code name residents(first: 3) { totalCount edges { node { name idNumber household { address building { name } } } } }"
    data = api.data(walk_query(5, leaf), user="province_admin")
    grids = grid_nodes(data["area"])
    assert len(grids) == 48 and all(len(g["code"]) == 15 for g in grids)
    first = grids[0]["residents"]["edges"][0]["node"]
    assert "*" not in first["name"] and len(first["idNumber"]) == 18
    assert first["household"]["building"]["name"].endswith("号楼")
    assert sum(g["residents"]["totalCount"] for g in grids) == data["area"]["children"]["totalCount"] * 0 + sum(
        g["residents"]["totalCount"] for g in grids)


def test_ancestors_and_parent(api):
    data = api.data('{ area(code: "%s") { level parent { code level } ancestors { code level name } } }' % GRID,
                    user="grid_worker")
    area = data["area"]
    assert area["level"] == "GRID"
    assert area["parent"] == {"code": "230102001001", "level": "COMMUNITY"}
    assert [a["code"] for a in area["ancestors"]] == ["23", "2301", "230102", "230102001", "230102001001"]
    assert area["ancestors"][0]["name"] == "黑龙江省"


@pytest.mark.parametrize("user, grids, residents_visible, masked", [
    ("province_admin", 48, True, False),
    ("province_analyst", 48, False, None),
    ("city_officer", 24, True, True),
    ("district_admin", 12, True, False),
    ("supervisor", 6, True, True),
    ("community_staff", 3, True, False),
    ("team_member", 3, True, False),
    ("grid_worker", 1, True, False),
])
def test_each_demo_users_view(api, user, grids, residents_visible, masked):
    leaf = "code residents(first: 1) { totalCount edges { node { name idNumber phone } } }"
    data = api.data(walk_query(5, leaf), user=user)
    found = grid_nodes(data["area"])
    found = [g for g in found if len(g["code"]) == 15]
    assert len(found) == grids
    rows = [e["node"] for g in found for e in g["residents"]["edges"]]
    if not residents_visible:
        assert rows == [] and all(g["residents"]["totalCount"] == 0 for g in found)
        return
    assert rows
    for r in rows:
        assert ("*" in r["idNumber"]) == masked
        assert ("*" in r["name"]) == masked


def test_anonymous_sees_nothing(api):
    data = api.data('{ area(code: "23") { name } areas { totalCount } }')
    assert data == {"area": None, "areas": {"totalCount": 0}}


def test_analyst_reads_aggregates_not_rows(api):
    data = api.data('{ area(code: "2301") { stats { residents households buildings floatingResidents } '
                    'households(first: 5) { totalCount } } }', user="province_analyst")
    stats = data["area"]["stats"]
    assert stats["residents"] > 0 and stats["households"] == 24 * 20 and stats["buildings"] == 24 * 3
    assert data["area"]["households"]["totalCount"] == 0


def test_stats_null_where_aggregate_scope_does_not_cover_the_area(api):
    data = api.data('{ a: area(code: "23") { stats { residents } } b: area(code: "2301") { stats { residents } } }',
                    user="city_officer")
    assert data["a"]["stats"] is None and data["b"]["stats"]["residents"] > 0


def test_stats_equal_row_counts(api):
    q = '{ area(code: "230102") { stats { residents households } residents { totalCount } households { totalCount } } }'
    data = api.data(q, user="district_admin")["area"]
    assert data["stats"]["residents"] == data["residents"]["totalCount"]
    assert data["stats"]["households"] == data["households"]["totalCount"]


def test_areas_query_filters(api):
    data = api.data('{ areas(level: DISTRICT) { totalCount edges { node { code name } } } }', user="province_analyst")
    assert [e["node"]["code"] for e in data["areas"]["edges"]] == ["230102", "230103", "230402", "230403"]
    data = api.data('{ areas(parentCode: "230102", search: "新华") { edges { node { name } } } }',
                    user="province_analyst")
    assert [e["node"]["name"] for e in data["areas"]["edges"]] == ["新华街道"]
    data = api.data('{ areas(level: GRID) { totalCount } }', user="community_staff")
    assert data["areas"]["totalCount"] == 3


def _page(api, user, after=None, first=None, last=None, before=None):
    args = ", ".join(f"{k}: {v!r}".replace("'", '"') for k, v in
                     dict(first=first, after=after, last=last, before=before).items() if v is not None)
    args = f"({args})" if args else ""
    q = '{ area(code: "%s") { residents%s { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } } } } }' % (GRID, args)
    return api.data(q, user=user)["area"]["residents"]


def test_paging_forward_and_backward_covers_every_row_once(api):
    seen, after, pages = [], None, 0
    while True:
        page = _page(api, "grid_worker", after=after, first=10)
        seen += [e["node"]["id"] for e in page["edges"]]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    total = page["totalCount"]
    assert len(seen) == len(set(seen)) == total and pages == -(-total // 10)
    back, before = [], None
    while True:
        page = _page(api, "grid_worker", before=before, last=7)
        back = [e["node"]["id"] for e in page["edges"]] + back
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert back == seen


def test_page_edges(api):
    empty = _page(api, "grid_worker", first=0)
    assert empty["edges"] == [] and empty["totalCount"] > 0
    full = _page(api, "grid_worker", first=100)
    last_cursor = full["pageInfo"]["endCursor"]
    beyond = _page(api, "grid_worker", first=5, after=last_cursor)
    assert beyond["edges"] == [] and beyond["pageInfo"]["hasNextPage"] is False
    default = _page(api, "grid_worker")
    assert len(default["edges"]) == 20


@pytest.mark.parametrize("args, field", [
    ("first: 101", "first"),
    ("first: -1", "first"),
    ("last: 500", "last"),
    ("first: 1, last: 1", "first"),
    ('after: "bm90LWEtY3Vyc29y"', "after"),
    ('before: "%%%"', "before"),
])
def test_bad_page_arguments_are_user_errors(api, args, field):
    body = api.query('{ area(code: "%s") { residents(%s) { totalCount } } }' % (GRID, args), user="grid_worker")
    err = body["errors"][0]
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, err


def test_node_outside_scope_answers_like_a_missing_one(api):
    q = '{ area(code: "%s") { residents(first: 1) { edges { node { id } } } } }' % NEIGHBOUR_GRID
    neighbour_id = api.data(q, user="community_staff")["area"]["residents"]["edges"][0]["node"]["id"]
    own_id = api.data('{ area(code: "%s") { residents(first: 1) { edges { node { id } } } } }' % GRID,
                      user="grid_worker")["area"]["residents"]["edges"][0]["node"]["id"]
    missing_id = global_id("Resident", 99999999)
    node_q = 'query($id: ID!) { node(id: $id) { id ... on Resident { name } } }'
    assert api.data(node_q, {"id": own_id}, user="grid_worker")["node"]["id"] == own_id
    outside = api.query(node_q, {"id": neighbour_id}, user="grid_worker")
    missing = api.query(node_q, {"id": missing_id}, user="grid_worker")
    assert outside == missing == {"data": {"node": None}}
    nodes = api.data('query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
                     {"ids": [own_id, neighbour_id, global_id("Area", NEIGHBOUR_GRID), global_id("Area", GRID)]},
                     user="grid_worker")["nodes"]
    assert nodes[0]["id"] == own_id and nodes[1] is None and nodes[2] is None and nodes[3] is not None


def test_masked_users_cannot_probe_by_any_personal_value(api):
    q = '{ area(code: "%s") { residents(first: 1) { edges { node { name idNumber phone } } } } }' % GRID
    clear = api.data(q, user="grid_worker")["area"]["residents"]["edges"][0]["node"]
    search = 'query($s: String!) { area(code: "%s") { residents(filter: {search: $s}) { totalCount edges { node { idNumber } } } } }' % GRID

    def hits(user, term):
        return api.data(search, {"s": term}, user=user)["area"]["residents"]["totalCount"]

    assert hits("grid_worker", clear["name"]) >= 1
    assert hits("grid_worker", clear["idNumber"][:10]) >= 1
    assert hits("city_officer", clear["name"]) == 0
    assert hits("city_officer", clear["idNumber"][:10]) == 0
    assert hits("city_officer", clear["idNumber"]) == 0  # a full number is no oracle either
    if clear["phone"]:
        assert hits("city_officer", clear["phone"][:7]) == 0
        assert hits("city_officer", clear["phone"]) == 0


def test_resident_filters(api):
    q = '{ area(code: "230102") { all: residents { totalCount } floating: residents(filter: {populationKind: FLOATING}) { totalCount } registered: residents(filter: {populationKind: REGISTERED}) { totalCount } young: residents(filter: {ageMax: 17}) { totalCount edges { node { age } } } old: residents(filter: {ageMin: 18}) { totalCount } } }'
    a = api.data(q, user="district_admin")["area"]
    assert a["floating"]["totalCount"] + a["registered"]["totalCount"] == a["all"]["totalCount"]
    assert a["young"]["totalCount"] + a["old"]["totalCount"] == a["all"]["totalCount"]
    assert all(e["node"]["age"] <= 17 for e in a["young"]["edges"])
    body = api.query('{ area(code: "230102") { residents(filter: {ageMin: 30, ageMax: 20}) { totalCount } } }',
                     user="district_admin")
    assert body["errors"][0]["extensions"]["field"] == "ageMin"


def test_clear_reads_are_audited_and_masked_reads_are_not(api, db_url):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from db.audit import AuditEvent
    from db.engine import make_sync_engine

    q = '{ area(code: "%s") { residents(first: 3) { edges { node { name } } } } }' % GRID
    api.data(q, user="grid_worker")
    api.data(q, user="city_officer")
    engine = make_sync_engine(db_url)
    with Session(engine) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "pii.read")).all()
    engine.dispose()
    assert [(e.actor_username, e.area_code, len(e.record_ids.split(","))) for e in events] == [("grid_worker", GRID, 3)]


@pytest.mark.parametrize("query, code, field", [
    ('{ area(code: "2x") { name } }', "BAD_USER_INPUT", "code"),
    ('{ area(code: "") { name } }', "BAD_USER_INPUT", "code"),
    ('{ area(code: "123") { name } }', "BAD_USER_INPUT", "code"),
    ('{ areas(parentCode: "99999") { totalCount } }', "BAD_USER_INPUT", "parentCode"),
])
def test_error_codes(api, query, code, field):
    err = api.query(query, user="grid_worker")["errors"][0]
    assert err["extensions"] == {"code": code, "field": field}


def test_validation_errors_have_a_code(api):
    err = api.query("{ nope }")["errors"][0]
    assert err["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_bad_token_is_401(api):
    r = api.post('{ area(code: "23") { name } }', token="not-a-jwt")
    assert r.status_code == 401
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_health_and_graphiql(api):
    assert api.client.get("/healthz").json() == {"status": "ok", "database": "reachable"}
    page = api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_internal_errors_are_masked_in_production():
    from graphql import GraphQLError

    from server.errors import classify

    err = GraphQLError("boom", path=["area"], original_error=RuntimeError("secret detail: password=x"))
    assert classify(err, production=True).message == "Internal server error"
    assert classify(err, production=True).extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert classify(err, production=False).message == "boom"


def test_a_query_asking_for_too_many_objects_is_refused(api, statements):
    pages = " ".join(f"r{i}: residents(first: {100 - i}) {{ edges {{ node {{ id }} }} }}" for i in range(5))
    q = "{ areas(level: GRID, first: 100) { edges { node { code %s } } } }" % pages
    body = api.query(q, user="province_admin")
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert not any("FROM resident" in s for s in statements.statements)
    small = "{ areas(level: GRID, first: 100) { edges { node { code residents(first: 100) { edges { node { id } } } } } } }"
    assert not api.query(small, user="province_admin").get("errors")


def test_nodes_with_too_many_ids_is_refused(api):
    ids = [global_id("Resident", i) for i in range(1, 25_001)]
    body = api.query('query($ids: [ID!]!) { nodes(ids: $ids) { id } }', {"ids": ids}, user="grid_worker")
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"


def test_masked_viewers_get_no_free_text_or_building_addresses(api, sync_session):
    from db.registry import Resident

    r = sync_session.query(Resident).filter(Resident.area_code == GRID).first()
    r.status, r.removed_reason = "moved_away", "随女儿迁往哈尔滨市南岗区花园街道12号"
    sync_session.commit()
    q = '{ area(code: "%s") { buildings(first: 1) { edges { node { address } } } residents(filter: {status: MOVED_AWAY}) { edges { node { removedReason } } } } }' % GRID
    masked = api.data(q, user="city_officer")["area"]
    clear = api.data(q, user="grid_worker")["area"]
    assert masked["residents"]["edges"][0]["node"]["removedReason"] == "****"
    assert clear["residents"]["edges"][0]["node"]["removedReason"].startswith("随女儿")
    assert "*" in masked["buildings"]["edges"][0]["node"]["address"]
    assert "*" not in clear["buildings"]["edges"][0]["node"]["address"]


def test_clear_grid_worker_contacts_are_audited(api, db_url):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from db.audit import AuditEvent
    from db.engine import make_sync_engine

    api.data('{ area(code: "%s") { gridWorkerName gridWorkerPhone } }' % GRID, user="grid_worker")
    engine = make_sync_engine(db_url)
    with Session(engine) as s:
        rows = s.execute(select(AuditEvent.resource, AuditEvent.record_ids)
                         .where(AuditEvent.action == "pii.read")).all()
    engine.dispose()
    assert ("area", GRID) in [tuple(r) for r in rows]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-45T00:00:00"])
def test_malformed_variables_are_user_errors(api, value):
    body = api.query('query($t: DateTime) { auditEvents(since: $t) { totalCount } }', {"t": value},
                     user="district_admin")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$t" in body["errors"][0]["message"]
