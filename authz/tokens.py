"""Signed access and refresh tokens (JWT, HS256) for the API's own logins.

Access tokens are short (15 minutes) so a revoked session stops working soon even
where nobody checks the session table; refresh tokens last 14 days and are checked
against the session (``sid``) on every use, which is what makes logout real. ``typ``
keeps one kind from being replayed as the other. Every failure to decode gives the
same message: a client learns nothing from which check failed.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from db.errors import Unauthenticated

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "exp", "typ")

#: Environment variable holding the signing secret.
SECRET_ENV = "WANGGE_SECRET"
#: HS256 needs at least as many key bytes as the hash has (RFC 7518, section 3.2).
MIN_SECRET_BYTES = 32
#: Used only outside production, so ``wangge serve`` works with no set-up. Public by design.
DEV_SECRET = "wangge-development-secret-not-for-production-use"

_INVALID = "invalid or expired token"


def _issue(user_id: int, secret: str, ttl: timedelta, session_id: str, typ: str) -> str:
    if not session_id:
        raise ValueError("a token needs the id of its login session")
    now = datetime.now(UTC)
    claims = {
        "sub": str(int(user_id)),  # RFC 7519: sub is a string; PyJWT checks that
        "sid": session_id,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + ttl,
        "typ": typ,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def issue_access_token(user_id: int, secret: str, *, ttl: timedelta = ACCESS_TTL, session_id: str) -> str:
    """A short-lived token sent with each API request."""
    return _issue(user_id, secret, ttl, session_id, ACCESS)


def issue_refresh_token(user_id: int, secret: str, *, ttl: timedelta = REFRESH_TTL, session_id: str) -> str:
    """A long-lived token exchanged for new access tokens while its session stands."""
    return _issue(user_id, secret, ttl, session_id, REFRESH)


def decode_token(token: str, secret: str, expected_typ: str) -> dict[str, Any]:
    """The claims of a valid token of kind ``expected_typ``; else :class:`Unauthenticated`.

    Only HS256 is accepted (so a forged ``alg: none`` or an RS/HS confusion fails), and
    every claim we rely on must be present.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": list(REQUIRED_CLAIMS), "verify_signature": True, "verify_exp": True},
        )
    except (jwt.PyJWTError, TypeError, ValueError):
        raise Unauthenticated(_INVALID) from None
    if claims.get("typ") != expected_typ:
        raise Unauthenticated(_INVALID)
    sub, sid = claims.get("sub"), claims.get("sid")
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit()) or not (isinstance(sid, str) and sid):
        raise Unauthenticated(_INVALID)
    return claims


def load_secret(production: bool) -> str:
    """The signing secret from ``$WANGGE_SECRET``.

    In production a missing or short secret stops start-up (RuntimeError) rather than
    signing tokens anyone could forge; in development the public :data:`DEV_SECRET`
    is used, with a warning so it is never mistaken for a configured one.
    """
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret.encode("utf-8")) >= MIN_SECRET_BYTES:
        return secret
    if production:
        what = "is not set" if not secret else f"is shorter than {MIN_SECRET_BYTES} bytes"
        raise RuntimeError(f"{SECRET_ENV} {what}; refusing to sign tokens in production")
    log.warning("%s is not set or too short: using the public development secret", SECRET_ENV)
    return DEV_SECRET
