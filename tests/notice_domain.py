"""A throwaway domain, notices on a grid's board (公告), written the way docs/ARCHITECTURE.md
"Adding a domain" says, all layers in one test module.

Loaded as a pytest plugin (``-p notice_domain``) by ``tests/test_adding_a_domain.py`` so
that it is declared before anything is assembled; then the suite's generated tests
(registration, scope per node and listing, declared mutations, personal fields, the gate
property) run over it unchanged. With ``NOTICE_UNDECLARED=1`` it also defines a
place-bound table it forgets to declare, which the registration test must catch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.base import AreaCode, Stamped
from db.registration import personal, place_bound

GRIDS = ("230102001001001", "230102001001002", "230102001002001", "230402001001001")


# -- db layer: the table, its resource and its personal column ---------------------------

@place_bound("notice")
class Notice(Stamped, table=True):
    __tablename__ = "notice"
    __table_args__ = (sa.Index("ix_notice_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    title: str = Field(sa_type=sa.String(100), nullable=False)
    posted_by_name: str = Field(sa_type=sa.String(50), nullable=False, sa_column_kwargs=personal("name"))


if os.environ.get("NOTICE_UNDECLARED"):
    class Forgotten(SQLModel, table=True):
        """A place-bound table nobody declared: the registration test must fail on it."""

        __tablename__ = "forgotten_ledger"
        id: int | None = Field(default=None, primary_key=True)
        area_code: str = Field(sa_type=AreaCode(), nullable=False)


# -- resolvers layer: the listing and the command ---------------------------------------

import strawberry  # noqa: E402 - after the table is declared, as a domain module is ordered
from strawberry import relay  # noqa: E402

from db.codes import Level, validate_code  # noqa: E402
from resolvers.listing import Listing, register_listing  # noqa: E402
from resolvers.unit_of_work import Requires, UnitOfWork, command  # noqa: E402

NOTICES = register_listing(Listing("notices", Notice, ("area_code", "id")))


@command(Requires("notice", "create", "areaCode"))
async def post_notice(w: UnitOfWork, inp) -> Notice:
    c = w.checker()
    area = c.run(validate_code, inp.area_code, "areaCode", Level.GRID)
    title = c.text(inp.title, "title", 100, required=True)
    c.done()
    w.require(area, "notice", "create", "areaCode")
    await w.grid(area, "areaCode")
    row = Notice(area_code=area, title=title, posted_by_name=w.user.display_name[:50])
    await w.add(row)
    w.audit("notice.post", row, {"after": {"title": title}})
    return row


# -- schema layer: the type, its list under Area, its mutation --------------------------

from schema.extend import fields_of  # noqa: E402
from schema.mutations import Result, mutation  # noqa: E402
from schema.nodes import RowNode  # noqa: E402
from schema.paging import listing_field  # noqa: E402
from schema.personal import personal_field  # noqa: E402


@strawberry.type(name="Notice", description="A notice on a grid's board.")
class NoticeType(RowNode):
    row_model = Notice
    id: relay.NodeID[int]
    row: strawberry.Private[Notice]
    title: str
    area_code: str
    posted_by_name = personal_field(Notice.posted_by_name, "Who posted it; masked unless you may read personal data here.")

    @classmethod
    def from_row(cls, r: Notice) -> "NoticeType":
        return cls(id=r.id, row=r, title=r.title, area_code=r.area_code)



@fields_of("Area")
@strawberry.type
class NoticeAreaFields:
    notices = listing_field(NOTICES, NoticeType, "Notices anywhere in this area.")


@strawberry.input(description="A new notice on a grid's board.")
class PostNoticeInput:
    area_code: str
    title: str


@fields_of("Mutation")
@strawberry.type
class NoticeMutation:
    post_notice = mutation(post_notice, "Post a notice on a grid's board.", arguments={"input": PostNoticeInput},
                           results=Result("notice", NoticeType, "the notice posted"))


# -- policies: a "# notice" section, and the rows of the test databases ------------------

POLICY = """
# ---------------------------------------------------------------------------
# notice: notices on a grid's board (the throwaway domain of the tests)
# ---------------------------------------------------------------------------
p, grid_worker, notice, read
p, grid_worker, notice, read_pii
p, grid_worker, notice, create
p, staff, notice, read
p, staff, notice, read_pii
p, staff, notice, create
p, officer, notice, read
"""


def pytest_configure(config) -> None:
    from authz.enforcer import default_policies_path

    text = default_policies_path().read_text(encoding="utf-8")
    text = text.replace("# Actions:", "#   notice     notices on a grid's board (the tests' throwaway domain)\n# Actions:", 1)
    path = Path(tempfile.mkdtemp(prefix="notice_policies_")) / "policies.csv"
    path.write_text(text + POLICY, encoding="utf-8")
    os.environ["WANGGE_POLICIES"] = str(path)


def pytest_sessionstart(session) -> None:
    """Each test database gets the domain's table (a real domain has a migration) and notices."""
    import conftest

    build = conftest.build_database

    def build_with_notices(url: str, *, seed: bool = True) -> None:
        build(url, seed=seed)
        from sqlalchemy.orm import Session

        from db.engine import make_sync_engine

        engine = make_sync_engine(url)
        try:
            Notice.__table__.create(engine)
            if seed:
                with Session(engine) as s:
                    s.add_all(Notice(area_code=g, title=f"{g} 核酸检测通知", posted_by_name="张建国") for g in GRIDS)
                    s.commit()
        finally:
            engine.dispose()

    conftest.build_database = build_with_notices


def pytest_collection_modifyitems(config, items) -> None:
    """The generated mutation test needs an example for every declared mutation: this one's."""
    import test_declared_mutations as declared

    declared.EXAMPLES["postNotice"] = (lambda s: {"input": {"areaCode": GRIDS[1], "title": "停水通知"}},
                                       ["grid_worker", "province_analyst"])
