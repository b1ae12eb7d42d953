"""The executable schema: the root types of ``schema`` with the server's extensions.

Here rather than in ``schema`` because the extensions are how the server answers (error
codes, request limits, the audit of clear reads, the login rule), and the types must not
depend on the server. ``server.app`` serves it and ``wangge export-schema`` prints it.
"""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import AddValidationRules
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.config import StrawberryConfig

from schema.direct import install as install_direct
from schema.root import Mutation, Query
from server.errors import ErrorCodes, client_code
from server.lifecycle import AuditClearReads, RequireLogin
from server.limits import RequestLimits

MAX_DEPTH = 25
#: ``QueryDepthLimiter(max_depth=...)`` builds a new rule class each time it is made; a
#: shared instance is deprecated (extensions hold per-request state), so the rule is built
#: once and each request gets a light ``AddValidationRules`` around it.
DEPTH_LIMIT = partial(AddValidationRules, [create_validator(MAX_DEPTH, None)])


class WanggeSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Log bugs (once, with the traceback), not the mistakes every client makes.

        Bad input, crafted IDs and refusals are answered with their code and never logged:
        a malformed ID used to leave three chained tracebacks. ``server.errors.client_code``
        is the one rule for which is which.
        """
        bugs = [e for e in errors if client_code(e) is None]
        if bugs:
            super().process_errors(bugs, execution_context)


schema = WanggeSchema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(sort_schema=True),
    extensions=[ErrorCodes, AuditClearReads, RequireLogin, RequestLimits, DEPTH_LIMIT],
)
#: Fields that take no arguments resolve without strawberry's per-call wrapper (schema.direct).
DIRECT_FIELDS = install_direct(schema._schema)
