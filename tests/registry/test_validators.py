"""Resident ID and phone validation, and the demo-person generator that must satisfy it."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.demo_people import DemoPerson, make_id_number, make_person
from db.errors import InvalidField
from db.validators import (
    id_birth_date,
    id_check_digit,
    id_gender,
    validate_national_id,
    validate_phone,
)

TODAY = dt.date(2026, 1, 1)

# GB 11643-1999's worked example: Beijing Chaoyang, born 1949-12-31, female, check digit X.
TEXTBOOK_ID = "11010519491231002X"


def reason_of(value: str, **kw) -> str:
    with pytest.raises(InvalidField) as exc:
        validate_national_id(value, today=TODAY, **kw)
    return exc.value.reason


def phone_reason(value: str) -> str:
    with pytest.raises(InvalidField) as exc:
        validate_phone(value)
    return exc.value.reason


def with_check(first17: str) -> str:
    return first17 + id_check_digit(first17)


# --- check digit ------------------------------------------------------------------


def test_check_digit_of_published_examples():
    assert id_check_digit(TEXTBOOK_ID[:17]) == "X"
    # The standard's other example, 440524188001010014.
    assert id_check_digit("44052418800101001") == "4"


def test_check_digit_by_hand():
    # 2*7 + 3*9 + 0*10 + 1*5 + 0*8 + 3*4 + 1*2 + 9*1 + 9*6 + 0*3 + 0*7 + 3*9 + 0*10
    # + 7*5 + 1*8 + 2*4 + 3*2 = 207; 207 % 11 = 9 -> "3"
    assert id_check_digit("23010319900307123") == "3"


@pytest.mark.parametrize("bad", ["", "1234567890123456", "123456789012345678", "1101051949123100X"])
def test_check_digit_refuses_malformed_input(bad):
    with pytest.raises(ValueError):
        id_check_digit(bad)


# --- valid ID numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "id_number",
    [
        TEXTBOOK_ID,
        "230103199003071233",
        with_check("31011520000229456"),  # leap day
        with_check("65010219000101001"),  # earliest accepted date
        with_check("82000020251231002"),  # Macau, last day before TODAY
        with_check("71000019800101333"),
        with_check("81000019991231111"),
    ],
)
def test_valid_ids_are_accepted_unchanged(id_number):
    assert validate_national_id(id_number, today=TODAY) == id_number


def test_today_itself_is_not_in_the_future():
    valid = with_check("11010520260101001")
    assert validate_national_id(valid, today=TODAY) == valid


def test_whitespace_is_stripped():
    assert validate_national_id(f"  {TEXTBOOK_ID}\n", today=TODAY) == TEXTBOOK_ID


def test_default_today_is_the_real_date():
    assert validate_national_id(TEXTBOOK_ID) == TEXTBOOK_ID
    assert reason_of(with_check("11010529990101001")) == "birth date 29990101 is in the future"
    with pytest.raises(InvalidField, match="in the future"):
        validate_national_id(with_check("11010529990101001"))


def test_birth_date_and_gender_of_textbook_example():
    assert id_birth_date(TEXTBOOK_ID) == dt.date(1949, 12, 31)
    assert id_gender(TEXTBOOK_ID) == "female"
    assert id_gender("230103199003071233") == "male"
    assert id_birth_date("230103199003071233") == dt.date(1990, 3, 7)


def test_helpers_validate_their_input():
    with pytest.raises(InvalidField, match="check digit"):
        id_gender("230103199003071234")
    with pytest.raises(InvalidField, match="not a real date"):
        id_birth_date(with_check("23010319900230123"))


# --- invalid ID numbers: one reason per failure --------------------------------------


def test_bad_checksum():
    assert reason_of("110105194912310021") == "check digit should be X, got 1"
    assert reason_of("230103199003071234") == "check digit should be 3, got 4"


def test_feb_30_is_not_a_real_date():
    assert reason_of(with_check("11010519900230123")) == "birth date 19900230 is not a real date"


@pytest.mark.parametrize("date8", ["19990231", "20230229", "19901301", "19900000", "19900431", "00000000"])
def test_impossible_dates(date8):
    assert reason_of(with_check(f"110105{date8}123")) == f"birth date {date8} is not a real date"


def test_future_birth_date():
    assert reason_of(with_check("11010520260102001")) == "birth date 20260102 is in the future"


def test_birth_before_1900():
    # The standard's own second example was born in 1880; nobody registered today was.
    assert reason_of("440524188001010014") == "birth date 18800101 is before 1900-01-01"
    assert reason_of(with_check("11010518991231001")) == "birth date 18991231 is before 1900-01-01"


def test_lowercase_x_is_refused_with_a_reason():
    reason = reason_of(TEXTBOOK_ID.lower())
    assert "uppercase X" in reason
    assert reason == "the last character must be an uppercase X, not a lowercase x"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (TEXTBOOK_ID[:17], "an ID number has 18 characters, got 17"),
        (TEXTBOOK_ID + "0", "an ID number has 18 characters, got 19"),
        ("1101051949123", "an ID number has 18 characters, got 13"),
        (
            "110105491231002",
            "15-digit first-generation ID numbers are no longer valid; enter the 18-character number",
        ),
        ("", "an ID number is required"),
        ("   ", "an ID number is required"),
    ],
)
def test_wrong_length(value, reason):
    assert reason_of(value) == reason


def test_none_is_required():
    assert reason_of(None) == "an ID number is required"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1101051949123100AX", "the first 17 characters must be digits; character 17 is not"),
        ("X10105194912310021", "the first 17 characters must be digits; character 1 is not"),
        ("110105-19491231002", "the first 17 characters must be digits; character 7 is not"),
        ("１１0105194912310021", "the first 17 characters must be digits; character 1 is not"),  # full-width
        ("11010519491231002Y", "the last character must be a digit or an uppercase X"),
        ("11010519491231002?", "the last character must be a digit or an uppercase X"),
    ],
)
def test_non_digits(value, reason):
    assert reason_of(value) == reason


@pytest.mark.parametrize("region", ["00", "10", "16", "20", "24", "38", "47", "55", "60", "66", "72", "80", "83", "99"])
def test_unknown_region(region):
    assert reason_of(with_check(f"{region}010519491231002")) == f"{region} is not a province-level region code"


@pytest.mark.parametrize(
    "region", ["11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65", "71", "81", "82"]
)
def test_known_regions(region):
    valid = with_check(f"{region}010519491231002")
    assert validate_national_id(valid, today=TODAY) == valid


def test_field_name_is_carried():
    with pytest.raises(InvalidField) as exc:
        validate_national_id("110105194912310021", "guardianIdNumber")
    assert exc.value.field == "guardianIdNumber"
    assert exc.value.message == "guardianIdNumber: check digit should be X, got 1"


def test_reasons_do_not_echo_the_whole_id():
    for bad in ["110105194912310021", "11010519491231002x", with_check("99010519491231002")]:
        assert bad not in reason_of(bad)


# --- phone numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        (" 138 1234 5678 ", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+86-13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("0451-86612345", "0451-86612345"),
        ("045186612345", "0451-86612345"),
        ("0451 86612345", "0451-86612345"),
        ("0451 8661 2345", "0451-86612345"),
        ("(0451)86612345", "0451-86612345"),
        ("010-62345678", "010-62345678"),
        ("01062345678", "010-62345678"),
        ("021-2345678", "021-2345678"),
        ("0451-86612345-123", "0451-86612345-123"),
        ("010-62345678 ext 9", "010-62345678-9"),
        ("0755-88888888转801", "0755-88888888-801"),
    ],
)
def test_valid_phones(value, expected):
    assert validate_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "a phone number is required"),
        ("12812345678", "a mobile number starts with 13-19, not 12"),
        ("10012345678", "a mobile number starts with 13-19, not 10"),
        ("1381234567", "a mobile number has 11 digits, got 10"),
        ("138123456789", "a mobile number has 11 digits, got 12"),
        ("1381234567a", "a mobile number must contain digits only"),
        ("+1 650 555 0100", "only mainland China (+86) numbers are accepted"),
        (
            "+86 451 86612345",
            "with +86 only mobile numbers are accepted; write a landline with its area code, e.g. 0451-86612345",
        ),
        (
            "86612345",
            "not a mainland mobile number (11 digits from 13-19) or a landline with area code (e.g. 0451-86612345)",
        ),
        (
            "hello",
            "not a mainland mobile number (11 digits from 13-19) or a landline with area code (e.g. 0451-86612345)",
        ),
    ],
)
def test_invalid_phones(value, reason):
    assert phone_reason(value) == reason


@pytest.mark.parametrize(
    "value",
    [
        "0451-0661234",  # local number starts with 0
        "0451-1661234",  # local number starts with 1
        "0451-866123",  # 6-digit local number
        "0451-866123456",  # 9-digit local number
        "0451-86612345-",  # dangling extension separator
        "0451-86612345-1234567",  # extension too long
        "0451-８6612345",  # full-width digit
        "0-86612345",  # no area code
        "00-86612345",  # not an area code, nor 0086
        "0131-86612345",  # 01x area codes have 3 digits
    ],
)
def test_invalid_landlines(value):
    reason = phone_reason(value)
    assert reason.startswith("a landline needs an area code")


def test_phone_field_name_is_carried():
    with pytest.raises(InvalidField) as exc:
        validate_phone("123", "gridWorkerPhone")
    assert exc.value.field == "gridWorkerPhone"


# --- demo people -----------------------------------------------------------------------

REGIONS = ["110105", "230103", "310115", "420102", "440305", "650102", "820000", "710000"]


def test_make_person_is_deterministic():
    a = [make_person(random.Random(7), "230103") for _ in range(3)]
    assert a[0] == a[1] == a[2]
    assert isinstance(a[0], DemoPerson)
    rng = random.Random(7)
    assert make_person(rng, "230103") != make_person(rng, "230103")


def test_demo_person_is_frozen():
    p = make_person(random.Random(1), "110105")
    with pytest.raises(AttributeError):
        p.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["23010", "2301033", "99aaaa", "990000", "160000"])
def test_make_person_refuses_bad_region(bad):
    with pytest.raises(ValueError):
        make_person(random.Random(1), bad)


def test_make_person_refuses_bad_age_range():
    with pytest.raises(ValueError):
        make_person(random.Random(1), "110105", min_age=30, max_age=20)
    with pytest.raises(ValueError):
        make_person(random.Random(1), "110105", min_age=200, max_age=210)


def test_make_id_number_encodes_gender_and_date():
    rng = random.Random(3)
    for gender in ("male", "female"):
        for _ in range(50):
            n = make_id_number(rng, "440305", dt.date(2000, 2, 29), gender)
            assert n.startswith("44030520000229")
            assert n[14:17] != "000"
            assert id_gender(n) == gender
            assert validate_national_id(n) == n


def age_on(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**64),
    region=st.sampled_from(REGIONS),
    ages=st.tuples(st.integers(0, 110), st.integers(0, 110)).map(sorted),
    today=st.dates(dt.date(2000, 1, 1), dt.date(2026, 1, 1)),
)
def test_every_generated_person_validates(seed, region, ages, today):
    min_age, max_age = ages
    if today.year - min_age < 1900:
        with pytest.raises(ValueError):
            make_person(random.Random(seed), region, min_age=min_age, max_age=max_age, today=today)
        return
    p = make_person(random.Random(seed), region, min_age=min_age, max_age=max_age, today=today)
    assert validate_national_id(p.id_number, today=today) == p.id_number
    assert validate_phone(p.phone) == p.phone
    assert p.id_number.startswith(region)
    assert id_birth_date(p.id_number) == p.birth_date
    assert id_gender(p.id_number) == p.gender
    assert min_age <= age_on(p.birth_date, today) <= max_age
    assert 2 <= len(p.name) <= 3


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**64), region=st.sampled_from(REGIONS))
def test_any_single_digit_change_is_rejected(seed, region):
    valid = make_person(random.Random(seed), region).id_number
    for pos in range(17):
        for digit in "0123456789":
            if digit == valid[pos]:
                continue
            mutated = valid[:pos] + digit + valid[pos + 1 :]
            with pytest.raises(InvalidField):
                validate_national_id(mutated, today=TODAY)


# --- global IDs given to mutations ---------------------------------------------------


@pytest.mark.parametrize("value, reason", [
    ("!!!", "not a valid ID"),
    (None, "not a valid ID"),
    ("VXNlcjox", None),  # User:1
    ("VXNlcjoxMDAwMDAwMDAwMDAwMDAwMDAwMDA=", "not a valid ID"),  # User:10**20, beyond the integer keys
    ("VXNlcjphYmM=", "not a valid ID"),  # User:abc
    ("R3JhbnQ6MQ==", "expected a User ID, got a Grant ID"),  # Grant:1
])
def test_decode_id_is_one_rule_for_every_mutation(value, reason):
    from strawberry import UNSET

    from resolvers.global_ids import decode_id
    from resolvers.validation import Checker

    checker = Checker()
    if reason is None:
        assert decode_id(value, "User", "userId") == 1
        assert checker.global_id(value, "User", "userId") == 1 and not checker.errors
        return
    with pytest.raises(InvalidField) as exc:
        decode_id(value, "User", "userId")
    assert (exc.value.field, exc.value.reason) == ("userId", reason)
    assert checker.global_id(value, "User", "userId") is None
    assert [(e.field, e.reason) for e in checker.errors] == [
        ("userId", "a User ID is required" if value is None else reason)]
    assert Checker().global_id(UNSET, "User", "userId") is UNSET
