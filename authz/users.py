"""Creating user accounts: the checked path the CLI and the API use, and the demo users.

``create_user`` is the one place an account is made (the first province admin on a new
installation is made with ``wangge create-user``; ``createUser`` calls it after the
delegation rules). It checks everything a wrong command line could get wrong and raises
``InvalidField`` naming the input, so the CLI can print ``error: <field>: <reason>``.

Here, not in ``db``: a role is checked against the policy file and a password hashed,
both ``authz``'s, and ``db`` depends on neither.

``seed_demo_users`` gives the demo tree one user per role at the level that role is meant
for, plus a temporary 包保 team member whose grant expires in 14 days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from authz.enforcer import default_policies_path
from authz.passwords import hash_password
from db.accounts import AreaGrant, User
from db.area import Area
from db.base import aware
from db.codes import validate_code
from db.errors import InvalidField
from db.validators import has_unstorable_chars

USERNAME_RE = re.compile(r"[a-z0-9_.-]{3,64}")
MIN_PASSWORD_LENGTH = 8
TEAM_ASSIGNMENT_DAYS = 14


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    area_code: str
    temporary_days: int | None = None  # a 包保 team's grant ends after this many days


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("province_admin", "省指挥部系统管理员", "admin", "23"),
    DemoUser("province_analyst", "省指挥部分析员", "analyst", "23"),
    DemoUser("city_officer", "哈尔滨市指挥部干部", "officer", "2301"),
    DemoUser("district_admin", "道里区系统管理员", "admin", "230102"),
    DemoUser("community_staff", "乡政社区工作者", "staff", "230102001001"),
    DemoUser("grid_worker", "乡政社区第一网格网格员", "grid_worker", "230102001001001"),
    DemoUser("supervisor", "新华街道督查组组长", "supervisor", "230102001"),
    DemoUser("team_member", "通江社区包保小分队队员", "staff", "230102001002", TEAM_ASSIGNMENT_DAYS),
)


def role_names(policies_path: Path | str | None = None) -> list[str]:
    """The roles named in the policy file (``p, role, resource, action`` lines), in file order."""
    path = Path(policies_path) if policies_path is not None else default_policies_path()  # the server's file
    roles: dict[str, None] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 4 and parts[0] == "p" and parts[1]:
            roles[parts[1]] = None
    return list(roles)


def create_user(
    session: Session,
    username: str,
    display_name: str,
    password: str,
    role: str | None = None,
    area_code: str | None = None,
    valid_until: datetime | None = None,
    *,
    allow_short: bool = False,
    policies_path: Path | str | None = None,
    granted_by: int | None = None,
    now: datetime | None = None,
    password_hash: str | None = None,
) -> User:
    """Add a user (and, with ``role`` and ``area_code``, their grant); flushes, never commits.

    Raises ``InvalidField`` naming ``username``, ``displayName``, ``password``, ``role``,
    ``areaCode`` or ``validUntil`` when that input is unacceptable. ``password_hash``, when
    given, is the hash of ``password`` made beforehand (the API hashes off the event loop);
    ``password`` is still checked.
    """
    now = aware(now) if now is not None else datetime.now(timezone.utc)
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise InvalidField(
            "username", f"'{username}' must be 3-64 characters of lower-case letters, digits, '_', '.' or '-'"
        )
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise InvalidField("username", f"'{username}' is already taken")
    if not display_name or not display_name.strip():
        raise InvalidField("displayName", "a display name is required")
    if len(display_name.strip()) > 100:
        raise InvalidField("displayName", "at most 100 characters")
    if has_unstorable_chars(display_name):  # PostgreSQL text refuses NUL: bad input, not a failed INSERT
        raise InvalidField("displayName", "must not contain control characters")
    if not isinstance(password, str) or not password:
        raise InvalidField("password", "a password is required")
    if not allow_short and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField("password", f"at least {MIN_PASSWORD_LENGTH} characters are required")
    if (role is None) != (area_code is None):
        missing = "areaCode" if area_code is None else "role"
        raise InvalidField(missing, "a role and an area code go together: give both or neither")
    if role is not None:
        known = role_names(policies_path)
        if role not in known:
            raise InvalidField("role", f"'{role}' is not a role in the policy file; known roles: {', '.join(known)}")
        validate_code(area_code, "areaCode")
        if session.get(Area, area_code) is None:
            raise InvalidField("areaCode", f"no area has code '{area_code}'")
    if valid_until is not None:
        if role is None:
            raise InvalidField("validUntil", "an end date needs a role and an area to end")
        valid_until = aware(valid_until)
        if valid_until <= now:
            raise InvalidField("validUntil", "must be in the future")

    user = User(username=username, display_name=display_name.strip(),
                password_hash=password_hash or hash_password(password), created_at=now)
    session.add(user)
    session.flush()
    if role is not None:
        session.add(AreaGrant(user_id=user.id, role=role, area_code=area_code, valid_from=now,
                              valid_until=valid_until, granted_by=granted_by, created_at=now))
        session.flush()
    return user


def seed_demo_users(session: Session, password: str, *, now: datetime | None = None) -> list[str]:
    """Create the demo users that do not exist yet (the demo tree must be loaded); flushes, never commits.

    Returns one line per user created, or one line saying nothing changed.
    """
    now = aware(now) if now is not None else datetime.now(timezone.utc)
    existing = set(session.scalars(sa.select(User.username).where(
        User.username.in_([u.username for u in DEMO_USERS]))))
    lines: list[str] = []
    for demo in DEMO_USERS:
        if demo.username in existing:
            continue
        until = now + timedelta(days=demo.temporary_days) if demo.temporary_days else None
        create_user(session, demo.username, demo.display_name, password, demo.role, demo.area_code, until,
                    allow_short=True, now=now)
        area = session.get(Area, demo.area_code)
        line = f"user {demo.username} ({demo.display_name}): {demo.role} in {demo.area_code} {area.name}"
        if until is not None:
            line += f" until {until:%Y-%m-%d}"
        lines.append(line)
    if not lines:
        return [f"demo users: all {len(DEMO_USERS)} already present: nothing changed"]
    return lines
