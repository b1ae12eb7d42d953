"""Generated from the declarations: every personal field comes masked to a masked viewer,
in clear (and audited) to a clear one, and no type shows a personal column another way.

The fields are those built by ``schema.personal.personal_field`` over columns declared
``db.registration.personal``; nothing here lists them by hand, so a new domain's personal
field is tested the day it is declared.
"""

from __future__ import annotations

import enum
import typing

import pytest
from sqlalchemy import select

from authz.masking import MASKS
from conftest import global_id
from db.audit import AuditEvent
from db.registration import personal_columns
from registry_support import GRID, fresh

MASKED_VIEWER = "city_officer"  # officer in the city: reads records, no read_pii
CLEAR_VIEWER = "grid_worker"  # read_pii on GRID


def _schema_types():
    from server.graphql_schema import schema

    for definition in schema.schema_converter.type_map.values():
        origin = getattr(definition.definition, "origin", None)
        if origin is not None and hasattr(definition.definition, "fields"):
            yield definition.definition


def personal_schema_fields() -> list[tuple[str, str, object]]:
    """(GraphQL type, GraphQL field, PersonalField) of every field built by ``personal_field``."""
    from server.graphql_schema import schema

    out = []
    for definition in _schema_types():
        for f in definition.fields:
            resolver = f.base_resolver
            declared = getattr(getattr(resolver, "wrapped_func", None), "personal", None) if resolver else None
            if declared is not None:
                out.append((definition.name, schema.config.name_converter.get_graphql_name(f), declared))
    return sorted(out, key=lambda t: (t[0], t[1]))


def _row_model(cls) -> type | None:
    """The table a GraphQL type wraps (its ``row: strawberry.Private[Model]``), if any."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:  # noqa: BLE001 - types without resolvable hints wrap no row
        return None
    row = hints.get("row")
    if row is None:
        return None
    args = typing.get_args(row)
    return args[0] if args else None


def test_there_are_personal_fields_to_test():
    names = {(t, f) for t, f, _ in personal_schema_fields()}
    assert {("Resident", "idNumber"), ("Household", "address"), ("Area", "gridWorkerPhone")} <= names


def test_no_type_shows_a_personal_column_another_way():
    offenders = []
    for definition in _schema_types():
        model = _row_model(definition.origin)
        if model is None or not hasattr(model, "__table__"):
            continue
        personal = personal_columns(model)
        for f in definition.fields:
            if f.python_name in personal:
                resolver = f.base_resolver
                if getattr(getattr(resolver, "wrapped_func", None), "personal", None) is None:
                    offenders.append(f"{definition.name}.{f.python_name}")
    assert offenders == []


def _wire(value):
    """A Python value as the JSON answer carries it (enums by name, dates as ISO text)."""
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.name
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row_in_grid(session, model, column: str):
    stmt = select(model).where(getattr(model, column).is_not(None))
    if hasattr(model, "area_code") and not isinstance(getattr(type(model), "area_code", None), property):
        area_col = model.__table__.c.get("area_code")
        stmt = stmt.where(area_col == GRID) if area_col is not None else stmt.where(model.__table__.c.code == GRID)
    return session.scalars(stmt.limit(1)).first()


def _give_every_personal_column_a_value(session) -> None:
    """The demo leaves some personal columns empty in the grid (a removal reason): fill them."""
    for _type, _field, declared in personal_schema_fields():
        if _row_in_grid(session, declared.model, declared.column) is None:
            row = _row_in_grid(session, declared.model, "version")
            setattr(row, declared.column, "随女儿迁往哈尔滨市南岗区花园街道12号")
    session.commit()


@pytest.mark.parametrize("type_name,field_name,declared", personal_schema_fields(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_a_personal_field_is_masked_for_a_masked_viewer_and_audited_in_clear(
        api, sync_session, type_name, field_name, declared):
    _give_every_personal_column_a_value(sync_session)
    row = _row_in_grid(fresh(sync_session), declared.model, declared.column)
    assert row is not None, f"no {declared.model.__name__} with {declared.column} in {GRID}"
    key = getattr(row, "id", None) or row.code
    query = "query($id: ID!) { node(id: $id) { ... on %s { %s } } }" % (type_name, field_name)
    variables = {"id": global_id(type_name, key)}
    stored = getattr(row, declared.column)
    stored_text = _wire(declared.convert(stored) if declared.convert else stored)

    masked = api.data(query, variables, user=MASKED_VIEWER)["node"][field_name]
    assert masked == MASKS[declared.kind](stored)
    assert masked != stored_text

    clear = api.data(query, variables, user=CLEAR_VIEWER)["node"][field_name]
    assert clear == stored_text
    reads = fresh(sync_session).scalars(select(AuditEvent).where(
        AuditEvent.action == "pii.read", AuditEvent.actor_username == CLEAR_VIEWER,
        AuditEvent.resource == declared.resource)).all()
    assert any(str(key) in (r.record_ids or "").split(",") for r in reads)
    assert not fresh(sync_session).scalars(select(AuditEvent).where(
        AuditEvent.action == "pii.read", AuditEvent.actor_username == MASKED_VIEWER)).all()
