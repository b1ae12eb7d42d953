"""The request's body checked before anything reads it whole: size and JSON nesting.

The first stage of the limits described in ``server.limits``: a body over its size is
refused from its Content-Length, or at the chunk that crosses the limit, before the rest is
read; its nesting is scanned before ``json.loads`` (which answered a body nested 1,000 deep
with HTTP 500). A request without ``Authorization`` also has its document checked here,
with the anonymous limits, so an anonymous abuser is refused before a pooled connection is
taken and the policy version read.
"""

from __future__ import annotations

import json
import re

from graphql import GraphQLError, GraphQLSyntaxError, parse
from starlette.responses import JSONResponse

from db.errors import ErrorCode
from server.document_cache import DOCUMENTS, Verdict
from server.http import error_response
from server.limits import (TOO_DEEP, PARSED, explain_parse_failure, check_document, document_limits,
                           too_many_tokens)

# -- the body ---------------------------------------------------------------------------


class RequestRefused(Exception):
    """A request refused before GraphQL sees it: an HTTP status and a JSON error with a code."""

    def __init__(self, status: int, code: ErrorCode, message: str, *, graphql: bool = False, **extensions) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extensions = status, code, message, extensions
        self.graphql = graphql

    @classmethod
    def from_error(cls, error: GraphQLError) -> "RequestRefused":
        """A document refused before GraphQL runs, answered as GraphQL would answer it."""
        ext = dict(error.extensions or {})
        return cls(200, ErrorCode(ext.pop("code")), error.message, graphql=True, **ext)

    def response(self) -> JSONResponse:
        # The rest of an unread body is never read: the connection cannot be reused.
        headers = {"Connection": "close"} if self.status == 413 else None
        return error_response(self.status, self.code, self.message, with_data=self.graphql, headers=headers,
                              **self.extensions)


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value
    return None


def body_limit(settings, scope) -> int:
    """Bytes a request may send: less without an ``Authorization`` header (nobody is logged in yet)."""
    if _header(scope, b"authorization"):
        return settings.max_body_bytes
    return settings.anonymous_max_body_bytes


def _too_large(limit: int) -> RequestRefused:
    return RequestRefused(413, ErrorCode.REQUEST_TOO_LARGE, f"the request body is larger than {limit} bytes", limit=limit)


async def read_body(scope, receive, limit: int) -> bytes:
    """The whole body, or ``REQUEST_TOO_LARGE`` as soon as it is known to exceed ``limit``.

    A declared ``Content-Length`` is refused before a byte is read; a chunked body (no
    length) is counted while it arrives and refused at the chunk that crosses the limit,
    so a 20 MiB body is never read, let alone parsed.
    """
    declared = _header(scope, b"content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise RequestRefused(400, ErrorCode.BAD_REQUEST, "Content-Length is not a number") from None
        if length > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestRefused(400, ErrorCode.BAD_REQUEST, "the request body was not received completely")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive):
    """An ASGI ``receive`` that hands out the body already read, then defers to the real one."""
    pending = True

    async def replayed():
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


#: A JSON string (escapes included): its brackets are text, not nesting.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def check_json_nesting(body: bytes, limit: int) -> None:
    """Refuse a body whose arrays/objects nest deeper than ``limit``, before ``json.loads``.

    The C decoder recurses once per level: 1,000 levels raised ``RecursionError`` (HTTP
    500), and a few hundred would reach graphql-core's variable coercion, which recurses
    too. Strings are cut out first (a query's braces are text); an ordinary body then has
    a handful of brackets and the loop below runs only for bodies that have many.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:  # too few to nest deeper
        return
    depth = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > limit:
                raise RequestRefused(400, ErrorCode.JSON_TOO_DEEP, f"the request body nests deeper than {limit} levels",
                                     limit=limit)
        else:
            depth -= 1


# -- before a connection is taken -------------------------------------------------------

async def guard_request(scope, receive, settings, schema):
    """Check a POST body within its limits; the ``receive`` to continue with.

    Size and JSON nesting for every request; for a request without ``Authorization``
    (anonymous for sure) also the document, with the anonymous limits. All of it before
    the view takes a pooled connection and reads the policy version: an anonymous
    abuser's refused request is one synchronous slice of the event loop, not a dozen
    (a refusal used to cost a connection and two queries, each an await that let the
    next abuser in). The parsed document is kept in the scope (``PARSED``) and not
    parsed again.
    """
    if scope.get("method") != "POST":
        return receive
    body = await read_body(scope, receive, body_limit(settings, scope))
    check_json_nesting(body, settings.max_json_depth)
    if not _header(scope, b"authorization"):
        parsed = check_anonymous_body(body, settings, schema)
        if parsed is not None:
            scope[PARSED] = parsed
    return replay(body, receive)


def check_anonymous_body(body: bytes, settings, schema) -> tuple[str, object] | None:
    """``(query, document)`` within the anonymous limits, None to let the view answer, or a refusal.

    None is for everything the view reports better itself (not JSON, no query, a plain
    syntax error); strawberry then parses a document of at most the anonymous tokens.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    query = data.get("query") if isinstance(data, dict) else None
    if not isinstance(query, str):
        return None
    limits = document_limits(settings, anonymous=True)
    verdict = DOCUMENTS.get(query, limits)
    if verdict is not None:
        if verdict.refused:
            raise RequestRefused.from_error(verdict.errors[0])
        return query, verdict.document
    if too_many_tokens(query, limits.tokens):
        raise RequestRefused(200, ErrorCode.TOO_MANY_TOKENS, f"the query has more than {limits.tokens} tokens",
                             graphql=True, limit=limits.tokens)
    try:
        document = parse(query, max_tokens=limits.tokens)
    except GraphQLSyntaxError as error:
        if explain_parse_failure(error, limits):
            raise RequestRefused.from_error(error) from None
        return None
    except RecursionError:  # graphql-core before 3.3 did not catch it
        raise RequestRefused(200, ErrorCode.QUERY_TOO_DEEP, TOO_DEEP, graphql=True) from None
    refusal = check_document(document, schema._schema, limits)
    if refusal is not None:
        DOCUMENTS.put(query, limits, Verdict(document, (refusal,), refused=True))
        raise RequestRefused.from_error(refusal)
    return query, document
