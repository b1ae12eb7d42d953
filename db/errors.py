"""Domain errors raised below the API, translated to GraphQL errors in one place.

Raising these instead of bare ``ValueError`` lets the API name the offending field and
reason, which is what a frontend needs to put the message next to the right input.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of expected, user-facing errors. ``code`` becomes ``extensions.code``."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidField(DomainError):
    """A value that fails validation: ``field`` names the input, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.reason = reason


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    """The record changed since the client read it (stale ``version``)."""

    code = "CONFLICT"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class QueryTooLarge(DomainError):
    """One operation asked for more objects than a request may return."""

    code = "QUERY_TOO_LARGE"


class QuotaExceeded(DomainError):
    """A bounded act (such as a lookup by ID number) was used up for today."""

    code = "QUOTA_EXCEEDED"
