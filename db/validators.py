"""Checks for the identifiers residents are registered and reached by.

Grid workers type ID and phone numbers in by hand, often from a paper form or a
photographed card, and a record with a mistyped ID number cannot be matched against
testing, vaccination or travel lists later: it silently becomes a second person. So the
number is checked where it enters the system, with a reason precise enough for the
worker to find the wrong character ("check digit should be 5, got 3") rather than a
bare "invalid". Values are normalised here (whitespace, +86, separators) so that equal
numbers are stored as equal strings and lookups and de-duplication can compare them
directly.

Reasons deliberately quote only the offending part (a region code, a birth date, a
digit), never the whole ID number, because error messages end up in logs and the ID
number is sensitive personal information.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

from db.errors import InvalidField

#: Weights of ISO 7064 MOD 11-2 for the first 17 digits (GB 11643-1999).
ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: Check character indexed by the weighted sum modulo 11.
ID_CHECK_MAP = "10X98765432"

#: Province-level region codes (first two digits) that appear in resident ID numbers.
PROVINCE_CODES: frozenset[str] = frozenset(
    f"{n:02d}"
    for lo, hi in ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71), (81, 82))
    for n in range(lo, hi + 1)
)

ID_EARLIEST_BIRTH = _dt.date(1900, 1, 1)

_DIGITS = frozenset("0123456789")


#: Largest id the integer primary keys hold (PostgreSQL ``integer``).
MAX_DB_ID = 2**31 - 1


def parse_db_id(value) -> int | None:
    """The database id written in a global ID (``Resident:42`` -> 42), or None.

    Only 1 to ``MAX_DB_ID`` in plain ASCII digits: ``int()`` alone let ``abc`` raise and
    ``10**20`` reach the driver ("integer out of range", "Python int too large"), which
    surfaced as INTERNAL_SERVER_ERROR instead of "no such object".
    """
    if not isinstance(value, str) or not _is_digits(value) or len(value) > 10:
        return None
    n = int(value)
    return n if 0 < n <= MAX_DB_ID else None


def has_unstorable_chars(value: str) -> bool:
    """Whether ``value`` holds control characters (NUL above all) or lone surrogates.

    PostgreSQL refuses NUL in text and psycopg cannot encode a lone surrogate, so such
    a value, in a search term or a field, raised INTERNAL_SERVER_ERROR; SQLite stored NUL
    silently (and cut LIKE patterns at it). No name, address or search needs them.
    """
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


def _is_digits(s: str) -> bool:
    """ASCII digits only: ``str.isdigit`` would also accept full-width and other scripts."""
    return bool(s) and all(c in _DIGITS for c in s)


def id_check_digit(first17: str) -> str:
    """The MOD 11-2 check character ("0"-"9" or "X") for the first 17 digits of an ID."""
    if len(first17) != 17 or not _is_digits(first17):
        raise ValueError(f"expected 17 ASCII digits, got {len(first17)} characters")
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS))
    return ID_CHECK_MAP[total % 11]


def _parse_birth(digits8: str, field: str) -> _dt.date:
    try:
        return _dt.date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        raise InvalidField(field, f"birth date {digits8} is not a real date") from None


def validate_national_id(value: str, field: str = "idNumber", *, today: _dt.date | None = None) -> str:
    """Return the normalised 18-character resident ID number, or raise :class:`InvalidField`.

    ``today`` bounds the birth date from above; it defaults to the current date.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(field, "an ID number is required")
    s = value.strip()
    if len(s) != 18:
        if len(s) == 15 and _is_digits(s):
            raise InvalidField(
                field, "15-digit first-generation ID numbers are no longer valid; enter the 18-character number"
            )
        raise InvalidField(field, f"an ID number has 18 characters, got {len(s)}")
    first17, last = s[:17], s[17]
    if not _is_digits(first17):
        bad = next(i for i, c in enumerate(first17) if c not in _DIGITS)
        raise InvalidField(field, f"the first 17 characters must be digits; character {bad + 1} is not")
    if last == "x":
        raise InvalidField(field, "the last character must be an uppercase X, not a lowercase x")
    if last not in _DIGITS and last != "X":
        raise InvalidField(field, "the last character must be a digit or an uppercase X")
    region = s[:2]
    if region not in PROVINCE_CODES:
        raise InvalidField(field, f"{region} is not a province-level region code")
    birth_digits = s[6:14]
    birth = _parse_birth(birth_digits, field)
    if birth < ID_EARLIEST_BIRTH:
        raise InvalidField(field, f"birth date {birth_digits} is before 1900-01-01")
    if birth > (today or _dt.date.today()):
        raise InvalidField(field, f"birth date {birth_digits} is in the future")
    expected = id_check_digit(first17)
    if last != expected:
        raise InvalidField(field, f"check digit should be {expected}, got {last}")
    return s


def id_birth_date(id_number: str) -> _dt.date:
    """Birth date encoded in an ID number (digits 7-14); the number is validated first."""
    s = validate_national_id(id_number)
    return _parse_birth(s[6:14], "idNumber")


def id_gender(id_number: str) -> str:
    """"male" if the 17th digit (the sequence code's last) is odd, else "female"."""
    s = validate_national_id(id_number)
    return "male" if int(s[16]) % 2 else "female"


# --- phone numbers -----------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)
# 3-digit area codes are 010 (Beijing) and 02x; every other area code has 4 digits.
# That rule is what lets an unseparated number such as 045186612345 be split.
_AREA = r"0(?:10|2\d|[3-9]\d{2})"
_LANDLINE = re.compile(
    rf"""
    \(?(?P<area>{_AREA})\)?      # area code, optionally in parentheses
    [\s-]*
    (?P<local>[2-9]\d{{6,7}})    # local number: 7-8 digits, never starting with 0 or 1
    (?:\s*(?:-|ext\.?|转|x)\s*(?P<ext>\d{{1,6}}))?   # optional extension
    """,
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)


def validate_phone(value: str, field: str = "phone") -> str:
    """Return a mainland phone number in canonical form, or raise :class:`InvalidField`.

    Mobile numbers come back as the bare 11 digits (``13812345678``), landlines as
    ``area-local`` with an optional ``-extension`` (``0451-86612345``, ``010-62345678-123``).
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(field, "a phone number is required")
    s = value.strip()
    compact = re.sub(r"[\s-]", "", s)

    # Country code: +86, 0086, or a bare 86 in front of an 11-digit mobile number.
    national = compact
    if compact.startswith("+"):
        if not compact.startswith("+86"):
            raise InvalidField(field, "only mainland China (+86) numbers are accepted")
        national = compact[3:]
    elif compact.startswith("00861"):
        national = compact[4:]
    elif compact.startswith("86") and len(compact) == 13:
        national = compact[2:]

    if national.startswith("1"):
        if not _is_digits(national):
            raise InvalidField(field, "a mobile number must contain digits only")
        if len(national) != 11:
            raise InvalidField(field, f"a mobile number has 11 digits, got {len(national)}")
        if not _MOBILE.fullmatch(national):
            raise InvalidField(field, f"a mobile number starts with 13-19, not {national[:2]}")
        return national

    if national != compact:
        # "+86 451 ..." drops the trunk 0; ask for the domestic form instead of guessing.
        raise InvalidField(
            field, "with +86 only mobile numbers are accepted; write a landline with its area code, e.g. 0451-86612345"
        )

    # Spaces inside the local number ("0451 8661 2345") are grouping, not separators.
    m = _LANDLINE.fullmatch(s) or _LANDLINE.fullmatch(re.sub(r"\s+", "", s))
    if m is None:
        if s.startswith(("0", "(0")):
            raise InvalidField(
                field,
                "a landline needs an area code (010, 02x or 0 + 3 digits) and a 7-8 digit local number, "
                "e.g. 0451-86612345",
            )
        raise InvalidField(
            field,
            "not a mainland mobile number (11 digits from 13-19) or a landline with area code (e.g. 0451-86612345)",
        )
    out = f"{m['area']}-{m['local']}"
    if m["ext"]:
        out += f"-{m['ext']}"
    return out
