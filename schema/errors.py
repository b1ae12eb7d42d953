"""Typed user errors carried in mutation payloads (``errors: [UserError!]!``).

Expected failures of a mutation (bad input, no right to act there, missing record, stale
version) are part of its answer, not an exception: a form puts ``message`` next to the
input named by ``field``, and ``code`` says which kind of failure it was (``BAD_USER_INPUT``,
``FORBIDDEN``, ``NOT_FOUND``, ``CONFLICT``, ``UNAUTHENTICATED``). Unexpected failures stay in
the GraphQL ``errors`` list with ``extensions.code`` (see ``server/errors.py``).

Both take their codes from ``db.errors.ErrorCode``, shown in the SDL as the enum
``ErrorCode``: a client generating types from the schema gets every code the API can
answer, each with when it is answered.
"""

from __future__ import annotations

import strawberry

from db.errors import DomainError, ErrorCode
from db.names import camel

strawberry.enum(ErrorCode, name="ErrorCode", description=(
    "Every code the API answers with: in a payload's errors[].code, a GraphQL error's extensions.code, "
    "or the JSON body of a request refused before GraphQL runs. The wire value is the member's name."))
# Strawberry takes a value's description only from ``strawberry.enum_value``; the enum lives
# below the API and imports no strawberry, so each member's own description is copied over.
for _value in ErrorCode.__strawberry_definition__.values:
    _value.description = ErrorCode[_value.name].description


@strawberry.type(description="An expected failure of a mutation: which input (if any), why, and what kind.")
class UserError:
    field: str | None = strawberry.field(description="The input the error is about (camelCase, as in the mutation's arguments), or null when it concerns the whole request.")
    message: str = strawberry.field(description="Human-readable reason, safe to show to the user.")
    code: ErrorCode = strawberry.field(description="Which kind of failure: BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, CONFLICT or UNAUTHENTICATED; QUOTA_EXCEEDED from lookupResident, INVALID_POLICY from reloadPolicies.")


def user_errors_from(exc: DomainError) -> list[UserError]:
    """The payload errors for one domain error (a list, so a payload can carry several).

    Layers below the API sometimes name a field in Python style (``area_code``); the
    client sees the argument's GraphQL name (``areaCode``).
    """
    return [UserError(field=camel(exc.field), message=exc.message, code=exc.code)]
