"""The ledgers' figures come from the counters and equal the rows, for whoever may read aggregates."""

from __future__ import annotations

from sqlalchemy import func, select

from db.key_person import KeyPerson
from db.returnee import FOLLOWING, Returnee

QUERY = """query($code: String!) { area(code: $code) {
  keyPersonCounts { total hardship elderlyAlone } returneesFollowing } }"""


def test_the_figures_equal_the_rows_and_are_aggregate_only(api, sync_session):
    city = "2301"
    kept = KeyPerson.removed_at.is_(None) & KeyPerson.area_code.startswith(city)
    total = sync_session.scalar(select(func.count()).where(kept))
    hardship = sync_session.scalar(select(func.count()).where(kept, KeyPerson.categories.like("%,hardship,%")))
    following = sync_session.scalar(select(func.count()).select_from(Returnee)
                                    .where(FOLLOWING, Returnee.area_code.startswith(city)))
    area = api.data(QUERY, {"code": city}, user="province_analyst")["area"]
    assert area["keyPersonCounts"]["total"] == total > 0 and area["keyPersonCounts"]["hardship"] == hardship
    assert area["returneesFollowing"] == following
    # aggregates are per area: a grid worker may not read the whole city's
    grid_view = api.data(QUERY, {"code": city}, user="grid_worker")["area"]
    assert grid_view is None or (grid_view["keyPersonCounts"] is None and grid_view["returneesFollowing"] is None)
