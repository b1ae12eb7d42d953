"""The number of SQL statements a query issues depends on its shape, not on the data.

Saleor-style pins: a nested query over a whole city, and a province-wide query by a user
holding 50 grants, each cost a fixed number of statements. If a change adds an N+1, the
counts below move with the data and these tests fail.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.accounts import AreaGrant, User
from db.area import Area
from db.engine import make_sync_engine
from db.registry import Household, Resident

#: Measured: 22 statements (1 to authenticate: login, user, grants and the policy version
#: in one round trip; 20 for the levels and relations; 1 audit insert of the clear reads).
#: It was 24 with three statements to authenticate. The pins below allow no growth.
CITY_QUERY = """
query($code: String!) { area(code: $code) { name stats { residents }
  children(first: 50) { totalCount edges { node { name parent { name } ancestors { code }
    children(first: 50) { totalCount edges { node { name
      children(first: 50) { totalCount edges { node { name
        children(first: 50) { totalCount edges { node { code gridWorkerName
          households(first: 30) { totalCount edges { node { address building { name }
            members { name idNumber household { room } grid { code } } } } }
          residents(first: 30) { totalCount edges { node { name phone household { address } } } }
        } } }
      } } }
    } } }
  } } } } }
"""


def count_for(api, statements, query, variables, user) -> int:
    api.token(user)  # the token's login session is made outside the counted request
    statements.reset()
    api.data(query, variables, user=user)
    return statements.count


def _add_rows(db_url: str, grid: str, n_households: int) -> None:
    """More households and residents in one grid, copying an existing resident's shape."""
    from db.demo_people import make_person
    import random

    engine = make_sync_engine(db_url)
    rng = random.Random(7)
    with Session(engine) as s:
        for _ in range(n_households):
            h = Household(area_code=grid, address="新华街道加建1号", kind="tenant")
            s.add(h)
            s.flush()
            for _ in range(3):
                p = make_person(rng, "230102")
                s.add(Resident(area_code=grid, household_id=h.id, name=p.name, gender=p.gender,
                               id_number=p.id_number, birth_date=p.birth_date, phone=p.phone))
        s.commit()
    engine.dispose()


def test_nested_city_query_costs_the_same_whatever_the_rows(api, statements, db_url):
    harbin = count_for(api, statements, CITY_QUERY, {"code": "2301"}, "province_admin")
    hegang = count_for(api, statements, CITY_QUERY, {"code": "2304"}, "province_admin")
    _add_rows(db_url, "230102001001001", 40)
    more = count_for(api, statements, CITY_QUERY, {"code": "2301"}, "province_admin")
    assert harbin == hegang == more, (harbin, hegang, more)
    assert harbin <= 22, harbin


def test_province_query_with_fifty_grants_costs_the_same_as_with_one(api, statements, db_url):
    engine = make_sync_engine(db_url)
    with Session(engine) as s:
        many = s.scalars(select(User).where(User.username == "grid_worker")).one()
        grids = s.scalars(select(Area.code).where(Area.level == "grid").order_by(Area.code)).all()
        communities = s.scalars(select(Area.code).where(Area.level == "community")).all()
        codes = [g for g in grids if g != "230102001001001"] + communities[:3]
        assert len(codes) == 50
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        for i, code in enumerate(codes):
            s.add(AreaGrant(user_id=many.id, role="grid_worker" if i % 2 else "staff", area_code=code,
                            valid_until=until))
        s.commit()
    engine.dispose()
    province = {"code": "23"}
    with_51 = count_for(api, statements, CITY_QUERY, province, "grid_worker")
    with_1 = count_for(api, statements, CITY_QUERY, province, "community_staff")
    assert with_51 == with_1, (with_51, with_1)
    assert with_51 <= 20, (with_51, statements.statements)
