"""Domain errors raised below the API, and every code the API can answer.

Raising these instead of bare ``ValueError`` lets the API name the offending field and
reason, which is what a frontend needs to put the message next to the right input.

``ErrorCode`` is the one list of the codes a client can be answered with, in a payload's
``errors[].code``, a GraphQL error's ``extensions.code`` or the JSON body of a request
refused before GraphQL runs. It lives here, below every layer that answers (it imports
nothing of ours), so that the domain errors, the server's refusals and the schema's
``ErrorCode`` enum all take their codes from it: a code that is not a member cannot be
written, and the SDL documents every one.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """A code the API answers with; each member's value is its name (the wire string).

    ``description`` says when the code is answered; the SDL shows it on the enum value.
    A ``str`` like the other enums the schema answers: the sorted schema's enum type looks
    a returned member up by its value.
    """

    def __new__(cls, value: str, description: str) -> "ErrorCode":
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    # -- expected failures of an operation (payload errors and field errors) ------------
    BAD_USER_INPUT = ("BAD_USER_INPUT", "An input is invalid (field names it, camelCase), or a variable cannot be "
                      "read as its type, or a global ID is malformed or of another type.")
    NOT_FOUND = ("NOT_FOUND", "The record does not exist or is outside your view (the two are not told apart); "
                 "over HTTP, 404 for a path that is not served.")
    FORBIDDEN = ("FORBIDDEN", "You can see the record or area but may not do this there.")
    CONFLICT = ("CONFLICT", "The record changed since you read it (stale version), or the change collides "
                "with one made at the same time: reload and retry.")
    UNAUTHENTICATED = ("UNAUTHENTICATED", "No valid token (none, expired, revoked or forged) for an operation "
                       "that needs one (HTTP 401), or login and refresh refused.")
    QUOTA_EXCEEDED = ("QUOTA_EXCEEDED", "A bounded act (a lookup by ID number) was used up for today.")
    INVALID_POLICY = ("INVALID_POLICY", "reloadPolicies: the policy file does not load; the running policies "
                      "stay in force.")
    # -- the document refused before or while it runs ------------------------------------
    GRAPHQL_VALIDATION_FAILED = ("GRAPHQL_VALIDATION_FAILED", "The document does not parse or does not validate "
                                 "against the schema.")
    TOO_MANY_TOKENS = ("TOO_MANY_TOKENS", "The document has more tokens than allowed (limit in extensions).")
    QUERY_TOO_DEEP = ("QUERY_TOO_DEEP", "Selections are nested too deeply to be read.")
    FRAGMENTS_TOO_DEEP = ("FRAGMENTS_TOO_DEEP", "Fragments spread each other deeper than allowed (limit in "
                          "extensions).")
    TOO_MANY_FIELDS = ("TOO_MANY_FIELDS", "The document selects more fields than allowed, each alias and "
                       "fragment use counted (limit in extensions).")
    QUERY_TOO_COMPLEX = ("QUERY_TOO_COMPLEX", "The document asks for more database reads than allowed (limit in "
                         "extensions).")
    QUERY_TOO_LARGE = ("QUERY_TOO_LARGE", "The operation asks for more objects than one request may return.")
    # -- the request refused before GraphQL runs -----------------------------------------
    BAD_REQUEST = ("BAD_REQUEST", "HTTP 400: the request is not a GraphQL request (not JSON, no query, a batch, "
                   "an unsupported content type, a body not received completely).")
    JSON_TOO_DEEP = ("JSON_TOO_DEEP", "HTTP 400: the JSON body nests deeper than allowed.")
    METHOD_NOT_ALLOWED = ("METHOD_NOT_ALLOWED", "HTTP 405: a mutation over GET, GET switched off, or another "
                          "method.")
    REQUEST_TOO_LARGE = ("REQUEST_TOO_LARGE", "HTTP 413: the body is larger than allowed.")
    # -- the server's side -----------------------------------------------------------------
    SERVICE_UNAVAILABLE = ("SERVICE_UNAVAILABLE", "No database connection in time (HTTP 503, with Retry-After), "
                           "or the audit of a clear read could not be written and the answer is withheld: "
                           "try again.")
    INTERNAL_SERVER_ERROR = ("INTERNAL_SERVER_ERROR", "A bug: logged by the server; the message is hidden in "
                             "production.")


class DomainError(Exception):
    """Base of expected, user-facing errors. ``code`` becomes ``extensions.code``."""

    code = ErrorCode.BAD_USER_INPUT

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
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    """The record changed since the client read it (stale ``version``)."""

    code = ErrorCode.CONFLICT


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class QueryTooLarge(DomainError):
    """One operation asked for more objects than a request may return."""

    code = ErrorCode.QUERY_TOO_LARGE


class QuotaExceeded(DomainError):
    """A bounded act (such as a lookup by ID number) was used up for today."""

    code = ErrorCode.QUOTA_EXCEEDED
