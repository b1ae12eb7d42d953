"""The ledger of key persons (重点人员台账): residents who need looking after in an epidemic.

A community keeps, per resident, why they need help (one or more categories: elderly
living alone, a child in difficulty, limited mobility, pregnancy, a family in hardship,
chronic illness, disability), who is assigned to help (a staff member, or a neighbour
with a name and phone), since when and until when, and notes.

The categories are health and family circumstances, so they are personal data: a viewer
without ``read_pii`` sees neither a person's categories nor (through a filter) who holds
one; the command offices read the per-category counts instead. They are stored in one
column, delimited (``,pregnant,chronic_illness,``), so a category filter is one LIKE that
cannot match across names, and each per-category counter is recountable from that column.

Entries are removed softly, with a reason, and stay in the history; removed entries are
neither listed by default nor counted.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field

from db.base import AreaCode, Stamped
from db.counters import declare
from db.registration import personal, place_bound


class KeyPersonCategory(str, enum.Enum):
    ELDERLY_ALONE = "elderly_alone"  # 独居老人
    CHILD_IN_DIFFICULTY = "child_in_difficulty"  # 困境儿童
    LIMITED_MOBILITY = "limited_mobility"  # 行动不便
    PREGNANT = "pregnant"  # 孕产妇
    HARDSHIP = "hardship"  # 困难家庭
    CHRONIC_ILLNESS = "chronic_illness"  # 慢性病
    DISABILITY = "disability"  # 残疾人


def stored_categories(categories) -> str:
    """``,a,b,``: sorted, delimited on both sides (see the module docstring)."""
    return "," + ",".join(sorted({KeyPersonCategory(c).value for c in categories})) + ","


def categories_of(stored: str | None) -> list[KeyPersonCategory]:
    return [KeyPersonCategory(c) for c in (stored or "").split(",") if c]


@place_bound("key_person")
class KeyPerson(Stamped, table=True):
    __tablename__ = "key_person"
    __table_args__ = (sa.Index("ix_key_person_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    resident_id: int = Field(foreign_key="resident.id", nullable=False, index=True)
    # Health and family circumstances: hidden from masked viewers (null), who read counts.
    categories: str = Field(sa_type=sa.String(200), nullable=False, sa_column_kwargs=personal("hidden"))
    helper_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    helper_name: str | None = Field(default=None, sa_type=sa.String(50), sa_column_kwargs=personal("name"))
    helper_phone: str | None = Field(default=None, sa_type=sa.String(20), sa_column_kwargs=personal("phone"))
    since: date = Field(nullable=False)
    until: date | None = Field(default=None)
    # Free text about a person's situation: withheld (****) from masked viewers.
    notes: str | None = Field(default=None, sa_type=sa.String(500), sa_column_kwargs=personal("withheld"))
    removed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    removed_by: int | None = Field(default=None, foreign_key="app_user.id")
    removed_reason: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("withheld"))


_KEPT = KeyPerson.removed_at.is_(None)
declare("key_persons", KeyPerson, _KEPT)
for _category in KeyPersonCategory:
    declare(f"key_persons_{_category.value}", KeyPerson, _KEPT & KeyPerson.categories.like(f"%,{_category.value},%"))
