"""Signed access and refresh tokens (JWT, HS256) for the API's own logins.

Access tokens are short (15 minutes) so a revoked session stops working soon even
where nobody checks the session table; refresh tokens last 14 days and are checked
against the session (``sid``) on every use, which is what makes logout real. ``typ``
keeps one kind from being replayed as the other. Every failure to decode gives the
same message: a client learns nothing from which check failed.

The signing secret (:func:`load_secret`) is ``$WANGGE_SECRET``, or, outside production and
only for a SQLite file database, a random one generated on first start and kept beside the
database (``<db file>.secret``, mode 0600). There is no built-in secret: one in the source
would let anyone mint tokens for any server that uses it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
import stat
import time
import uuid
from pathlib import Path
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
#: Appended to a SQLite database's path to name the file its generated secret is kept in.
SECRET_FILE_SUFFIX = ".secret"
#: How long a start waits for a secret file another process has just created to be written.
SECRET_FILE_WAIT = 5.0
#: How to make a good secret, quoted in the errors.
HOW_TO_MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"

_INVALID = "invalid or expired token"


class SecretError(RuntimeError):
    """No usable signing secret: the server must not start. ``field`` names what to fix."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


def _strong_enough(secret: str | None) -> bool:
    return isinstance(secret, str) and len(secret.encode("utf-8")) >= MIN_SECRET_BYTES


def _issue(user_id: int, secret: str, ttl: timedelta, session_id: str, typ: str) -> str:
    if not session_id:
        raise ValueError("a token needs the id of its login session")
    if not _strong_enough(secret):  # never sign with an empty or guessable key, whatever the caller
        raise ValueError(f"refusing to sign with a secret shorter than {MIN_SECRET_BYTES} bytes")
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

    A client sends the same access token with every request until it expires, and
    verifying it (base64, HMAC, JSON, claims) was 4% of the server's CPU on a request
    answered from the counters (``bench/``, story b). So a token that verified is kept
    (``_verified``, bounded) and only its expiry is checked again; a token that failed is
    verified afresh each time. Whether its login is still open is not a property of the
    token: ``authz.principal`` reads the login session on every request.
    """
    if not _strong_enough(secret) or not isinstance(token, str):
        raise Unauthenticated(_INVALID)
    claims = _verified(token, secret, expected_typ)
    if claims["exp"] <= time.time():  # as PyJWT: expired once ``exp`` is reached
        raise Unauthenticated(_INVALID)
    return dict(claims)


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str, expected_typ: str) -> dict[str, Any]:
    """The claims of a token that passes every check (a refusal raises, and is not kept)."""
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
    if not isinstance(claims.get("exp"), (int, float)):
        raise Unauthenticated(_INVALID)
    return claims


def session_fingerprint(secret: str, session_id: str) -> str:
    """A short keyed fingerprint of a login session, for the audit trail.

    12 hex digits of HMAC-SHA256(secret, label + session id): the rows of one login (login,
    refreshes, a replayed refresh, logout) can be told apart and linked, while the id a token
    is built from never reaches the audit trail and cannot be recovered from it.
    """
    message = b"wangge.audit.session\0" + session_id.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()[:12]


def secret_file_for(database_url: str | None) -> Path | None:
    """Where a generated secret is kept for ``database_url``: ``<db file>.secret``.

    None for a database that is not a SQLite file (in memory, or a server database).
    """
    from sqlalchemy.engine import make_url

    from db.engine import database_url as effective_url

    url = make_url(effective_url(database_url))
    if url.get_backend_name() != "sqlite":
        return None
    path = url.database or ""
    if path in ("", ":memory:") or path.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(path + SECRET_FILE_SUFFIX)


def load_secret(production: bool, database_url: str | None = None) -> str:
    """The signing secret: ``$WANGGE_SECRET``, else (development only) a generated one.

    - ``$WANGGE_SECRET`` set (non-empty): used if it has 32 bytes or more, refused otherwise,
      in every mode (:class:`SecretError` naming the variable).
    - unset in production: refused.
    - unset in development on a SQLite file: the secret in ``<db file>.secret``, created
      on first start (see :func:`_file_secret`); so tokens survive a restart.
    - unset in development on an in-memory SQLite database: a random secret for this
      process (the data does not outlive it either).
    - unset in development on any other database (PostgreSQL): refused. A shared server
      database means several processes and hosts, which must agree on one secret that is
      not kept in the data it protects (nor in its dumps and backups): that is set-up.
    """
    secret = os.environ.get(SECRET_ENV, "")
    if secret:
        if not _strong_enough(secret):
            raise SecretError(SECRET_ENV, f"is shorter than {MIN_SECRET_BYTES} bytes "
                                          f"({len(secret.encode('utf-8'))} given); set it to a random value "
                                          f"of {MIN_SECRET_BYTES}+ bytes, e.g. {HOW_TO_MAKE_ONE}")
        return secret
    if production:
        raise SecretError(SECRET_ENV, f"is not set; refusing to sign tokens in production "
                                      f"(set it to a random value of {MIN_SECRET_BYTES}+ bytes, e.g. {HOW_TO_MAKE_ONE})")
    path = secret_file_for(database_url)
    if path is not None:
        return _file_secret(path)
    from sqlalchemy.engine import make_url

    from db.engine import database_url as effective_url

    if make_url(effective_url(database_url)).get_backend_name() == "sqlite":
        log.info("%s is not set: in-memory database, signing with a random secret for this process", SECRET_ENV)
        return secrets.token_urlsafe(48)
    raise SecretError(SECRET_ENV, f"is not set; a development secret is generated only for a SQLite database "
                                  f"file (kept beside it). For this database set {SECRET_ENV} to a random value "
                                  f"of {MIN_SECRET_BYTES}+ bytes, the same in every process, e.g. {HOW_TO_MAKE_ONE}")


def _publish(fd: int, data: bytes) -> None:
    """Write a new secret file's content (one write, flushed to disk before anyone relies on it)."""
    os.write(fd, data)
    os.fsync(fd)


def _file_secret(path: Path) -> str:
    """The secret kept in ``path``, created there (0600) by the first start that finds none.

    ``O_CREAT | O_EXCL`` makes creation atomic: of several processes starting at once
    exactly one creates the file and writes a fresh ``secrets.token_urlsafe(48)``; the
    others find it existing and read it, waiting (up to :data:`SECRET_FILE_WAIT` s) for
    the creator to finish writing. So they all sign with the same secret, and so does
    every later start. Deleting the file logs everyone out at the next start.
    """
    fresh = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return _read_secret_file(path)
    except OSError as exc:
        raise SecretError(SECRET_ENV, f"is not set and no development secret could be created at {path}: "
                                      f"{exc.strerror or exc}") from None
    try:
        _publish(fd, (fresh + "\n").encode("ascii"))
    finally:
        os.close(fd)
    log.warning("%s is not set: generated a development secret in %s (keep it private; "
                "set %s in production)", SECRET_ENV, path, SECRET_ENV)
    return fresh


def _read_secret_file(path: Path) -> str:
    deadline = time.monotonic() + SECRET_FILE_WAIT
    while True:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SecretError(SECRET_ENV, f"is not set and the development secret {path} "
                                          f"cannot be read: {exc.strerror or exc}") from None
        text = raw.decode("utf-8", "replace").strip()
        # A file just created by a process starting beside us may not be written yet.
        if text or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if not _strong_enough(text):
        raise SecretError(SECRET_ENV, f"is not set and the development secret {path} holds fewer than "
                                      f"{MIN_SECRET_BYTES} bytes; delete the file to generate a new one "
                                      f"(everyone is logged out) or set {SECRET_ENV}")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the development secret %s can be read by other users (mode %o): chmod 600 it",
                    path, stat.S_IMODE(mode))
    return text
