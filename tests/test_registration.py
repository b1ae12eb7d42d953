"""Every place-bound table is declared, and the gate and enforcer follow the declarations.

A table holding an ``area_code`` that nobody declared would be readable by every user:
the gate filters only what ``db.registration`` lists. These tests walk the metadata so
that such a table fails the suite, not a review.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from authz import enforcer as enforcer_module
from authz.gate import gated_tables
from db import registration
from db.base import AreaCode
from db.models import metadata

ROOT = Path(__file__).resolve().parent.parent


def test_every_table_with_an_area_code_is_declared():
    assert registration.unregistered(metadata) == []


def test_an_undeclared_place_bound_table_is_found():
    other = sa.MetaData()
    sa.Table("isolation_site", other, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("area_code", sa.String(15)))
    sa.Table("app_note", other, sa.Column("id", sa.Integer, primary_key=True))
    assert registration.unregistered(other) == ["isolation_site"]


def test_bookkeeping_tables_say_why():
    for table in registration.place_bound_tables():
        if table.bookkeeping is not None:
            assert len(table.bookkeeping.split()) >= 4, table


def test_a_declared_table_is_gated_and_its_resource_known():
    class ThrowawayNote(SQLModel, table=True):
        __tablename__ = "throwaway_note"
        metadata = sa.MetaData()  # kept out of the application's tables
        id: int | None = Field(default=None, primary_key=True)
        area_code: str = Field(sa_type=AreaCode(), nullable=False)

    registration.place_bound("throwaway")(ThrowawayNote)
    try:
        assert (ThrowawayNote, "throwaway") in gated_tables()
        assert "throwaway" in registration.table_resources()
        assert registration.resource_of(ThrowawayNote) == "throwaway"
    finally:
        registration.forget(ThrowawayNote)
    assert (ThrowawayNote, "throwaway") not in gated_tables()


def test_a_declaration_needs_the_column_it_scopes_by():
    class NoArea(SQLModel, table=True):
        __tablename__ = "throwaway_no_area"
        metadata = sa.MetaData()
        id: int | None = Field(default=None, primary_key=True)

    try:
        registration.place_bound("nothing")(NoArea)
    except TypeError as exc:
        assert "area_code" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a table without its area column was declared")


def test_a_table_read_from_below_names_no_one():
    """Read from below its area, a row is seen by readers of other areas: never a person's."""

    class Notes(SQLModel, table=True):
        __tablename__ = "throwaway_read_from_below"
        metadata = sa.MetaData()
        id: int | None = Field(default=None, primary_key=True)
        area_code: str = Field(sa_type=AreaCode())
        author: str = Field(sa_type=sa.String(50), sa_column_kwargs=registration.personal("name"))

    before = registration.place_bound_tables()
    with pytest.raises(TypeError, match="personal"):
        registration.place_bound("notes", seen_from_below=True)(Notes)
    assert registration.place_bound_tables() == before


def test_campaigns_are_read_from_below_and_their_records_are_not():
    from db.survey import SurveyCampaign, SurveyPerson, SurveyVisit

    assert registration.declared(SurveyCampaign).seen_from_below
    assert not registration.declared(SurveyVisit).seen_from_below
    assert not registration.declared(SurveyPerson).seen_from_below


def test_the_enforcer_knows_every_declared_resource_and_the_policy_file_documents_them():
    resources = registration.table_resources() | frozenset(registration.OTHER_RESOURCES)
    assert enforcer_module.RESOURCES <= resources
    header = enforcer_module.default_policies_path().read_text(encoding="utf-8").split("# Actions:")[0]
    documented = set(re.findall(r"^#\s+(\w+)\s{2,}", header, re.M)) | set(re.findall(r"\s{2,}(\w+)\s{2,}", header))
    assert resources <= documented, resources - documented


def test_request_code_opens_unscoped_sessions_only_through_the_named_helper():
    """``RequestContext.unscoped(why)`` is the only place a request builds a gate-free session."""
    offenders = []
    for folder in ("resolvers", "schema"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"\b(Async)?Session\(|sessionmaker\(", text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_fields_declared_for_a_type_after_it_was_assembled_are_refused():
    """A domain imported too late would silently lose its fields: it is an error instead."""
    import strawberry

    from schema.extend import fields_of
    from server.graphql_schema import schema  # noqa: F401 - every shared type assembled

    @strawberry.type
    class LateFields:
        late: int = 0

    try:
        fields_of("Resident")(LateFields)
    except RuntimeError as exc:
        assert "already assembled" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("fields declared for an assembled type were accepted")
