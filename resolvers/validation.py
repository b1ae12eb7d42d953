"""Checking what a mutation was given, before anything is read or written (``w.checker()``
of ``resolvers.unit_of_work``); every domain's commands use it, and it imports no domain.

Every check names the input it concerns (camelCase, as the client sent it), and all
independent problems of one request are reported together (``InputErrors``), so a form
can mark every wrong box at once instead of one per round trip.

ID number, gender and birth date: the 18-character ID number encodes the birth date
(digits 7-14) and the gender (parity of digit 17), so the two are *derived* from the ID
when the client leaves them out, and when given they must agree with it. A disagreement
is reported on the gender or birth-date field: usually the ID was mistyped, and the
cross-check is what catches it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from strawberry import UNSET

from db.base import utcnow
from db.errors import DomainError, InvalidField
from db.validators import has_unstorable_chars, id_birth_date, id_gender, validate_national_id, validate_phone
from resolvers.global_ids import decode_id


class InputErrors(DomainError):
    """Several invalid inputs of one request; ``errors`` holds one ``InvalidField`` each."""

    def __init__(self, errors: list[InvalidField]) -> None:
        super().__init__("; ".join(e.message for e in errors), field=errors[0].field)
        self.errors = errors


@dataclass
class Checker:
    """Collects field errors; ``done()`` raises them together."""

    today: date = field(default_factory=date.today)
    errors: list[InvalidField] = field(default_factory=list)
    #: Put before every field name: ``people.1.`` for the second person of a batch.
    prefix: str = ""

    def fail(self, name: str, reason: str) -> None:
        self.errors.append(InvalidField(self.prefix + name, reason))

    def within(self, prefix: str) -> "Checker":
        """A checker for one item of a list input, whose errors land in this one's list
        named ``<prefix><field>`` (``people.0.idNumber``): every item checked with the same
        rules as when it is sent alone, every wrong box of every item reported at once."""
        return Checker(today=self.today, errors=self.errors, prefix=self.prefix + prefix)

    def done(self) -> None:
        if self.errors:
            raise InputErrors(self.errors)

    def ok(self, name: str) -> bool:
        return not any(e.field == self.prefix + name for e in self.errors)

    def run(self, fn, *args, **kw):
        """``fn(*args, **kw)``, or None with the error recorded when it raises InvalidField."""
        try:
            return fn(*args, **kw)
        except InvalidField as exc:
            self.errors.append(InvalidField(self.prefix + exc.field, exc.reason) if self.prefix else exc)
            return None

    # -- values -------------------------------------------------------------------
    def text(self, value, name: str, max_len: int, *, required: bool) -> str | None:
        """Stripped text within ``max_len`` characters; empty counts as absent."""
        if value is UNSET:
            return UNSET
        text = value.strip() if isinstance(value, str) else None
        if not text:
            if required:
                self.fail(name, "must not be empty")
            return None
        if len(text) > max_len:
            self.fail(name, f"at most {max_len} characters, got {len(text)}")
        elif has_unstorable_chars(text):  # NUL: PostgreSQL refused it (an internal error), SQLite stored it
            self.fail(name, "must not contain control characters")
        return text

    def one_of(self, value, choices: type, name: str, *, required: bool = True):
        """The stored value of an enum member (or its value) among ``choices``; UNSET passes."""
        value = value.value if isinstance(value, enum.Enum) else value
        if value in (None, UNSET):
            if required and value is None:
                self.fail(name, "must not be empty")
            return value
        if value not in {e.value for e in choices}:
            self.fail(name, f"must be one of {', '.join(e.value for e in choices)}")
        return value

    def moment(self, value: datetime | None, zone: str, name: str) -> datetime:
        """A moment the client reports (now when left out; a time without a zone is local to
        ``zone``), not in the future: a device's clock a few minutes ahead is forgiven."""
        if value is None:
            return utcnow()
        at = value.replace(tzinfo=ZoneInfo(zone)) if value.tzinfo is None else value
        if at > utcnow() + timedelta(minutes=5):
            self.fail(name, "must not be in the future")
        return at

    def number(self, value, name: str, low: int, high: int, *, required: bool) -> int | None:
        if value is UNSET:
            return UNSET
        if value is None:
            if required:
                self.fail(name, "must not be empty")
            return None
        if not low <= value <= high:
            self.fail(name, f"must be between {low} and {high}, got {value}")
        return value

    def required(self, value, name: str):
        """For update inputs: a non-nullable column cannot be cleared with an explicit null."""
        if value is None:
            self.fail(name, "cannot be cleared")
        return value

    def phone(self, value, name: str = "phone") -> str | None:
        if value is UNSET:
            return UNSET
        if value is None or not value.strip():
            return None  # a phone is optional: empty clears it
        return self.run(validate_phone, value, name)

    def id_number(self, value, name: str = "idNumber") -> str | None:
        if value is UNSET:
            return UNSET
        if value is None:
            return self.required(value, name)
        return self.run(validate_national_id, value, name, today=self.today)

    def global_id(self, value, type_name: str, name: str) -> int | None:
        """The database id inside a Relay global ID of ``type_name`` (``resolvers.global_ids``),
        or None with the error recorded; a required ID given as null is "required"."""
        if value is UNSET:
            return UNSET
        if value is None:
            self.fail(name, f"a {type_name} ID is required")
            return None
        return self.run(decode_id, value, type_name, name)

    def not_future(self, value: date | None, name: str) -> None:
        if value not in (None, UNSET) and value > self.today:
            self.fail(name, f"{value.isoformat()} is in the future")

    def not_before(self, value: date | None, earliest: date | None, name: str, what: str) -> None:
        if value not in (None, UNSET) and earliest not in (None, UNSET) and value < earliest:
            self.fail(name, f"{value.isoformat()} is before the {what} ({earliest.isoformat()})")

    def identity(self, id_number: str | None, gender, birth_date) -> tuple[str | None, date | None]:
        """Gender and birth date agreeing with ``id_number`` (derived when not given)."""
        if id_number is None:
            return None, None
        want_gender, want_birth = id_gender(id_number), id_birth_date(id_number)
        given = getattr(gender, "value", gender)
        if given not in (UNSET, None) and given != want_gender:
            self.fail("gender", f"the ID number is that of a {want_gender} person, not {given}")
        if birth_date not in (UNSET, None) and birth_date != want_birth:
            self.fail("birthDate", f"the ID number gives {want_birth.isoformat()}, not {birth_date.isoformat()}")
        return want_gender, want_birth


__all__ = ["Checker", "InputErrors"]
