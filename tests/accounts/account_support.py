"""Helpers shared by the account and grant tests: real logins, global ids, users made directly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from conftest import DEMO_PASSWORD, global_id  # noqa: F401 - re-exported for the account tests

COMMUNITY = "230102001001"          # 乡政社区, in district_admin's 道里区
OTHER_COMMUNITY = "230102002001"    # 安升社区, same district, another street
OTHER_DISTRICT = "230103"           # 南岗区
USERS = "{ users(first: 50) { totalCount edges { node { id username isActive grants { role areaCode } } } } }"
AREA = 'query($code: String!) { area(code: $code) { code name residents(first: 1) { totalCount } } }'


def new_user(username="new_staff", role="staff", area=COMMUNITY, **extra) -> dict:
    return {"input": {"username": username, "displayName": "新社区工作者", "password": "long-enough-password",
                      "role": role, "areaCode": area, **extra}}


def errors(payload: dict) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


LOGIN = """
mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) {
    accessToken refreshToken expiresAt
    viewer { id username displayName grants { id role areaCode areaName validFrom validUntil active }
             permissions { areaCode resource action } }
    errors { field message code }
  }
}"""

REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(refreshToken: $token) { accessToken refreshToken expiresAt viewer { username } errors { field message code } }
}"""

VIEWER = "{ viewer { id username displayName grants { role areaCode areaName validFrom validUntil } permissions { areaCode resource action } } }"

CREATE_USER = """
mutation Create($input: CreateUserInput!) {
  createUser(input: $input) {
    user { id username displayName isActive grants { id role areaCode areaName validUntil } }
    grant { id role areaCode }
    errors { field message code }
  }
}"""

GRANT_ROLE = """
mutation Grant($userId: ID!, $role: String!, $areaCode: String!, $validFrom: DateTime, $validUntil: DateTime) {
  grantRole(userId: $userId, role: $role, areaCode: $areaCode, validFrom: $validFrom, validUntil: $validUntil) {
    grant { id role areaCode areaName validFrom validUntil active user { username } }
    errors { field message code }
  }
}"""

REVOKE_GRANT = """
mutation Revoke($grantId: ID!) {
  revokeGrant(grantId: $grantId) { grant { id revokedAt active } errors { field message code } }
}"""

DEACTIVATE = """
mutation Deactivate($userId: ID!) {
  deactivateUser(userId: $userId) { user { id username isActive } errors { field message code } }
}"""


def login(api, username: str, password: str = DEMO_PASSWORD) -> dict:
    """The ``login`` payload (tokens or errors)."""
    return api.data(LOGIN, {"username": username, "password": password})["login"]


def as_token(api, token: str, query: str, variables: dict | None = None):
    """POST with an explicit bearer token; the raw response."""
    return api.post(query, variables, token=token)


def user_id(sync_session, username: str) -> int:
    from db.accounts import User

    sync_session.expire_all()
    return sync_session.scalars(select(User.id).where(User.username == username)).one()


def grant_of(sync_session, username: str):
    """The (single) grant of a user, fresh from the database."""
    from db.accounts import AreaGrant, User

    sync_session.expire_all()
    return sync_session.scalars(select(AreaGrant).join(User, User.id == AreaGrant.user_id)
                                .where(User.username == username).order_by(AreaGrant.id)).first()


def add_user(sync_session, username: str, role: str | None = None, area_code: str | None = None, *,
             valid_from: datetime | None = None, valid_until: datetime | None = None) -> int:
    """A user with the demo password and (optionally) one grant with any validity, committed.

    Written directly, not through the API: the API refuses grants that are born expired.
    The password hash is borrowed from a demo user, which saves an Argon2 round.
    """
    from db.accounts import AreaGrant, User
    from authz.users import create_user

    demo_hash = sync_session.scalars(select(User.password_hash).where(User.username == "grid_worker")).one()
    user = create_user(sync_session, username, username, DEMO_PASSWORD, allow_short=True, password_hash=demo_hash)
    if role is not None:
        now = datetime.now(timezone.utc)
        sync_session.add(AreaGrant(user_id=user.id, role=role, area_code=area_code,
                                   valid_from=valid_from or now - timedelta(days=1), valid_until=valid_until))
    sync_session.commit()
    return user.id


def audit_rows(sync_session, action: str | None = None) -> list:
    from db.audit import AuditEvent

    sync_session.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    return list(sync_session.scalars(stmt))
