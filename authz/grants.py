"""The grants of the user whose request is running, visible to Casbin's role manager.

One enforcer serves the whole process (loading policies per request would cost more
than the request), but Casbin asks its role manager ``g(user, role, area)`` without any
request object. The grants therefore travel in a :mod:`contextvars` variable: each
asyncio task (and each thread) sees only the grants its own request installed, so two
requests answered concurrently can never lend each other rights.

The grants held here are already filtered to "valid right now" by the SQL that read
them (``valid_from <= now < valid_until``); nothing here looks at time.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ActiveGrant:
    """One role a user holds in one area (and everything below it), valid now.

    Not validated on construction: a grant read from storage with a broken code must
    still be representable so the role manager can refuse it instead of crashing the
    request; :func:`authz.role_manager.grant_reaches` is where codes are checked.
    """

    role: str
    area_code: str
    #: When the grant ends (aware UTC), None if open-ended: delegation may not outlast it.
    valid_until: datetime | None = None


@dataclass(frozen=True)
class _Installed:
    subject: str
    grants: tuple[ActiveGrant, ...]


_current: contextvars.ContextVar[_Installed | None] = contextvars.ContextVar("wangge_active_grants", default=None)


def set_grants(subject: str, grants: Iterable[ActiveGrant]) -> contextvars.Token[_Installed | None]:
    """Install ``grants`` as ``subject``'s for the current context; pass the token to :func:`reset_grants`."""
    return _current.set(_Installed(subject, tuple(dict.fromkeys(grants))))


def reset_grants(token: contextvars.Token[_Installed | None]) -> None:
    """Restore what was installed before the matching :func:`set_grants`."""
    _current.reset(token)


@contextlib.contextmanager
def use_grants(subject: str, grants: Iterable[ActiveGrant]) -> Iterator[None]:
    """Make ``grants`` the answer for ``subject`` inside the ``with`` block only."""
    token = set_grants(subject, grants)
    try:
        yield
    finally:
        reset_grants(token)


def current_grants(subject: str) -> tuple[ActiveGrant, ...]:
    """The grants installed for ``subject`` in this context; empty for anybody else.

    Asking about another subject (including a role name passed where a user was
    expected) yields nothing, so a lookup can only ever widen the rights of the one
    user the request authenticated.
    """
    installed = _current.get()
    if installed is None or installed.subject != subject:
        return ()
    return installed.grants
