"""Generated residents for demo data and tests, so that real personal data never has to be.

Demo databases and test fixtures need people whose ID numbers pass the same validation
as production input (region prefix, real birth date, correct check digit), otherwise
they exercise nothing. Copying real records for that is not acceptable, so everything
here is synthesised from a caller-supplied ``random.Random``: the same seed gives the
same people, which keeps fixtures and screenshots stable across runs.

Names are random combinations of common surnames and ordinary given-name characters;
any resemblance to a real person is coincidence. ID numbers and phone numbers are
well-formed but invented, and may by chance coincide with a real one, so generated
data must stay in demo and test environments.
"""

from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass

from db.validators import ID_EARLIEST_BIRTH, PROVINCE_CODES, id_check_digit

SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)

GIVEN_CHARS: tuple[str, ...] = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯健俊帆帅旭宁"
    "丹玲晨欣博雪琳颖倩婷昊天佳怡子涵思雨梓萱嘉晓海波春梅志新东立荣林云飞秋莉亮"
)

#: Mobile number prefixes (first three digits) in ordinary use by the three carriers.
MOBILE_PREFIXES: tuple[str, ...] = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "191", "198", "199",
)  # fmt: skip

GENDERS: tuple[str, ...] = ("male", "female")


@dataclass(frozen=True)
class DemoPerson:
    """A generated resident; ``id_number`` encodes ``birth_date`` and ``gender``."""

    name: str
    gender: str
    id_number: str
    birth_date: _dt.date
    phone: str


def _check_region(region_code6: str) -> None:
    if not (len(region_code6) == 6 and region_code6.isascii() and region_code6.isdigit()):
        raise ValueError(f"region_code6 must be 6 digits, got {region_code6!r}")
    if region_code6[:2] not in PROVINCE_CODES:
        raise ValueError(f"{region_code6[:2]} is not a province-level region code")


def make_id_number(rng: random.Random, region_code6: str, birth_date: _dt.date, gender: str) -> str:
    """A valid 18-character ID number with a random sequence code of the right parity."""
    _check_region(region_code6)
    if gender not in GENDERS:
        raise ValueError(f"gender must be 'male' or 'female', got {gender!r}")
    if birth_date < ID_EARLIEST_BIRTH:
        raise ValueError(f"birth date {birth_date} is before {ID_EARLIEST_BIRTH}")
    # Sequence code 001-999; its last digit is odd for men and even for women.
    parity = 1 if gender == "male" else 0
    seq = rng.randrange(1 if parity else 2, 1000, 2)
    first17 = f"{region_code6}{birth_date:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


def _years_before(d: _dt.date, years: int) -> _dt.date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February in a non-leap year
        return d.replace(year=d.year - years, day=28)


def make_phone(rng: random.Random) -> str:
    """A well-formed 11-digit mobile number."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def make_name(rng: random.Random) -> str:
    """Surname plus a one- or two-character given name."""
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def make_person(
    rng: random.Random,
    region_code6: str,
    *,
    min_age: int = 0,
    max_age: int = 90,
    today: _dt.date = _dt.date(2026, 1, 1),
) -> DemoPerson:
    """A generated person aged ``min_age``..``max_age`` (whole years) on ``today``."""
    if not 0 <= min_age <= max_age:
        raise ValueError(f"need 0 <= min_age <= max_age, got {min_age}..{max_age}")
    _check_region(region_code6)
    latest = _years_before(today, min_age)
    earliest = max(_years_before(today, max_age + 1) + _dt.timedelta(days=1), ID_EARLIEST_BIRTH)
    if earliest > latest:
        raise ValueError(f"no birth date after {ID_EARLIEST_BIRTH} gives an age of {min_age}..{max_age} on {today}")
    birth = _dt.date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))
    gender = rng.choice(GENDERS)
    return DemoPerson(
        name=make_name(rng),
        gender=gender,
        id_number=make_id_number(rng, region_code6, birth, gender),
        birth_date=birth,
        phone=make_phone(rng),
    )
