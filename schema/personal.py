"""Personal fields: declared on the column once, masked and audited by one mechanism.

A column declared personal (``db.registration.personal``) is exposed only through
:func:`personal_field`, which shows it in clear where the viewer holds ``read_pii`` on
the record's resource at the record's area, noting the clear read for the audit trail
(written in the request's transaction, ``server.lifecycle.AuditClearReads``), and masked
otherwise with the mask its kind names (``authz.masking.MASKS``). The GraphQL type and
nullability follow from the column: a nullable column, or one whose mask is null, is
nullable.

Every field built here is listed in :data:`DECLARED`; a test reads a row of each through a
masked and a clear viewer and compares, and another fails for a type that exposes a
personal column any other way. So a new personal field cannot skip the mask or the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import strawberry

from authz.masking import MASKS
from db.registration import declared
from schema.direct import direct


@dataclass(frozen=True)
class PersonalField:
    model: type
    column: str
    kind: str
    resource: str
    #: Resources whose ``read_pii`` also shows the value (a grid worker's contact: the area's
    #: or the residents'); the first is the one the clear read is recorded under.
    readers: tuple[str, ...]
    #: What turns a value shown in clear into the field's answer (None: the value itself).
    convert: object = None


#: Every personal field of the schema, by (model, column).
DECLARED: dict[tuple[type, str], PersonalField] = {}


def reveal(ctx, field: PersonalField, row):
    """The value in clear if the viewer may read personal data there (noted), else masked."""
    return _revealed(ctx, field, row)[0]


def _revealed(ctx, field: PersonalField, row) -> tuple[object, bool]:
    """``(value or mask, shown in clear)``."""
    value = getattr(row, field.column)
    if value is None:
        return None, False
    area_code = row.area_code
    if any(ctx.may(resource, "read_pii", area_code) for resource in field.readers):
        ctx.note_clear_read(field.resource, _record_key(row), area_code)
        return value, True
    return MASKS[field.kind](value), False


def _record_key(row) -> int | str:
    """A row's id, or the code of an area (the tree is keyed by code)."""
    key = getattr(row, "id", None)
    return key if key is not None else row.area_code


def personal_field(column, description: str, *, also_readers: tuple[str, ...] = (), graphql_type=None,
                   convert=None):
    """A strawberry field over the personal ``column`` (``Model.column``) of ``self.row``.

    ``convert`` turns a value shown in clear into what the field answers (stored
    categories into a list of enums, say), with ``graphql_type`` the field's type then;
    a masked value is answered as the mask gives it.
    """
    model, name = column.class_, column.key
    table = declared(model)
    if table is None:
        raise TypeError(f"{model.__name__} is not a declared place-bound table")
    kind = model.__table__.c[name].info.get("personal")
    if kind is None:
        raise TypeError(f"{model.__name__}.{name} is not declared personal (db.registration.personal)")
    field = PersonalField(model, name, kind, table.resource, (table.resource, *also_readers), convert)
    DECLARED[(model, name)] = field

    def answer(ctx, row):
        value, clear = _revealed(ctx, field, row)
        return convert(value) if convert is not None and clear else value

    def resolve(self, info):
        return answer(info.context, self.row)

    resolve.personal = field  # found by the generated tests through the schema
    direct(resolve, lambda source, ctx: answer(ctx, source.row))  # 150 calls on a page of 50
    sql_column = model.__table__.c[name]
    python_type = sql_column.type.python_type
    nullable = sql_column.nullable or MASKS[kind]("x") is None
    answered = graphql_type if graphql_type is not None else python_type
    resolve.__annotations__ = {"info": strawberry.Info, "return": Optional[answered] if nullable else answered}
    resolve.__name__ = name
    return strawberry.field(resolver=resolve, description=description)
