"""GraphQL of the key-person ledger: ``Area.keyPersons``, ``KeyPerson`` and its mutations.

What a masked viewer (an officer, a supervisor) sees of an entry: that it exists, where,
since and until when, whom it is about (the resident, masked as usual); not why (the
categories are null), not the helper's contact, not the notes. The command offices read
the per-category counts (``AreaStats``-style figures come with the aggregates issue).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import strawberry
from strawberry import UNSET, relay

from db import key_person as rows
from db.base import aware
from resolvers import key_person as ledger
from schema.direct import row_field
from schema.extend import fields_of
from schema.mutations import VERSION_SENT, Result, mutation
from schema.nodes import RowNode, version_field
from schema.paging import listing_field
from schema.personal import personal_field
from schema.registry.references import resident_field
from schema.timeline import register_timeline_source

KeyPersonCategoryEnum = strawberry.enum(rows.KeyPersonCategory, name="KeyPersonCategory", description=(
    "Why a resident is in the ledger: elderly living alone (独居老人), a child in difficulty (困境儿童), "
    "limited mobility (行动不便), pregnant (孕产妇), a family in hardship (困难家庭), chronic illness (慢性病), "
    "disability (残疾人)."))


@strawberry.type(name="KeyPerson", description="An entry of the key-person ledger (重点人员台账).")
class KeyPersonType(RowNode):
    row_model = rows.KeyPerson
    id: relay.NodeID[int]
    row: strawberry.Private[rows.KeyPerson]
    area_code: str = strawberry.field(description="Code of the grid (网格) of the resident.")
    categories = personal_field(rows.KeyPerson.categories, "Why the resident needs looking after; null unless you may "
                                "read personal data here.", graphql_type=list[KeyPersonCategoryEnum],
                                convert=rows.categories_of)
    helper_name = personal_field(rows.KeyPerson.helper_name, "Who is assigned to help; masked unless you may read "
                                 "personal data here.")
    helper_phone = personal_field(rows.KeyPerson.helper_phone, "The helper's phone; masked unless you may read "
                                  "personal data here.")
    notes = personal_field(rows.KeyPerson.notes, "Notes on the situation; withheld unless you may read personal "
                           "data here.")
    removed_reason = personal_field(rows.KeyPerson.removed_reason, "Why the entry was removed, if it was; withheld "
                                    "unless you may read personal data here.")
    since = row_field(rows.KeyPerson.since, date, "Since when the resident is in the ledger.")
    until = row_field(rows.KeyPerson.until, Optional[date], "Until when, if the need is known to end.")
    removed_at = row_field(rows.KeyPerson.removed_at, Optional[datetime], "When the entry was removed (soft), if it was.",
                           convert=aware)
    version = version_field(rows.KeyPerson)

    @classmethod
    def from_row(cls, r: rows.KeyPerson) -> "KeyPersonType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    resident = resident_field("The resident (masked as the registry masks them).")


@strawberry.input(description="Filters for the key-person ledger.")
class KeyPersonFilterInput:
    category: KeyPersonCategoryEnum | None = strawberry.field(default=None, description="Only entries with this category. Matches only where you may read personal data; elsewhere nothing matches (read the counts instead).")
    current: bool | None = strawberry.field(default=None, description="true: only entries in force today (since <= today <= until); false: only the others.")
    include_removed: bool = strawberry.field(default=False, description="Also the entries removed from the ledger.")

    def to_filter(self) -> ledger.KeyPersonFilter:
        category = rows.KeyPersonCategory(self.category).value if self.category else None
        return ledger.KeyPersonFilter(category, self.current, self.include_removed)


@strawberry.type(description="Entries of the key-person ledger in an area, from its grids' counters (汇总).")
class KeyPersonCounts:
    total: int = strawberry.field(description="Entries not removed.")
    elderly_alone: int
    child_in_difficulty: int
    limited_mobility: int
    pregnant: int
    hardship: int
    chronic_illness: int
    disability: int


@fields_of("Area")
@strawberry.type
class KeyPersonAreaFields:
    key_persons = listing_field(ledger.KEY_PERSONS, KeyPersonType, "Entries of the key-person ledger (重点人员) anywhere "
                                "in this area, not removed unless asked.", filter_input=KeyPersonFilterInput)

    @strawberry.field(description="Key persons of the whole area, in total and per category (an entry may have "
                                  "several); null unless you may read aggregates for all of it.")
    async def key_person_counts(self, info: strawberry.Info) -> KeyPersonCounts | None:
        if not info.context.may("aggregate", "read", self.code):
            return None
        s = await info.context.loaders.stats.load(self.code)
        return KeyPersonCounts(total=s["key_persons"],
                               **{c.value: s[f"key_persons_{c.value}"] for c in rows.KeyPersonCategory})


@strawberry.input(description="A resident entered in the key-person ledger.")
class AddKeyPersonInput:
    resident_id: strawberry.ID = strawberry.field(description="Global ID of the Resident (active).")
    categories: list[KeyPersonCategoryEnum] = strawberry.field(description="At least one.")
    helper_name: str | None = strawberry.field(default=None, description="Who is assigned to help, up to 50 characters.")
    helper_phone: str | None = strawberry.field(default=None, description="The helper's phone, mainland mobile or landline.")
    since: date | None = strawberry.field(default=None, description="Defaults to today; not in the future.")
    until: date | None = strawberry.field(default=None, description="Not before since.")
    notes: str | None = strawberry.field(default=None, description="Up to 500 characters.")


@strawberry.input(description="Changes to a ledger entry; fields left out stay as they are.")
class UpdateKeyPersonInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the KeyPerson.")
    version: int = strawberry.field(description=VERSION_SENT)
    categories: list[KeyPersonCategoryEnum] | None = UNSET
    helper_name: str | None = UNSET
    helper_phone: str | None = UNSET
    since: date | None = UNSET
    until: date | None = UNSET
    notes: str | None = UNSET


@strawberry.input(description="Take an entry off the ledger (soft: it stays in the history).")
class RemoveKeyPersonInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the KeyPerson.")
    version: int = strawberry.field(description=VERSION_SENT)
    reason: str = strawberry.field(description="Up to 200 characters.")


ENTRY = "key_person"


@fields_of("Mutation")
@strawberry.type
class KeyPersonMutation:
    add_key_person = mutation(ledger.add_key_person, "Enter a resident in the key-person ledger.",
                              arguments={"input": AddKeyPersonInput},
                              results=Result(ENTRY, KeyPersonType, "the new entry"))
    update_key_person = mutation(ledger.update_key_person, "Correct a key-person entry.",
                                 arguments={"input": UpdateKeyPersonInput},
                                 results=Result(ENTRY, KeyPersonType, "the entry as changed"))
    remove_key_person = mutation(ledger.remove_key_person, "Take an entry off the key-person ledger, with a reason.",
                                 arguments={"input": RemoveKeyPersonInput},
                                 results=Result(ENTRY, KeyPersonType, "the entry, now removed"))


register_timeline_source("key_person", rows.KeyPerson, lambda resident_id: rows.KeyPerson.resident_id == resident_id,
                         KeyPersonType)
