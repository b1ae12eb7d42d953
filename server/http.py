"""GraphQL over HTTP: which methods carry which operations, and errors a client can read.

Strawberry answers a request it cannot take (bad JSON, no query, a wrong method, a
mutation over GET) with ``text/plain``, which a client's JSON error handler cannot read,
and refused every GET query. Here:

- queries may come over GET (``/graphql?query=...&variables=...``), as the GraphQL-over-HTTP
  specification expects, unless ``WANGGE_ALLOW_GET=false``; mutations never do (a link or
  an image tag must not change data): 405 with ``Allow: POST``;
- every such refusal is a JSON body ``{"errors": [{"message", "extensions": {"code"}}]}``
  with ``BAD_REQUEST`` (400), ``METHOD_NOT_ALLOWED`` (405) or ``NOT_FOUND`` (404).
"""

from __future__ import annotations

from cross_web import HTTPException
from starlette.responses import JSONResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.unset import UNSET

from db.errors import ErrorCode

CODES = {400: ErrorCode.BAD_REQUEST, 404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}


def error_response(status: int, code: ErrorCode, message: str, *, with_data: bool = False,
                   headers: dict[str, str] | None = None, **extensions) -> JSONResponse:
    """The one shape of every error answered outside GraphQL's own result: one error with its code.

    ``with_data`` adds ``"data": null`` where the answer stands for a GraphQL result.
    """
    body: dict = {"errors": [{"message": message, "extensions": {"code": code.value, **extensions}}]}
    if with_data:
        body = {"data": None, **body}
    return JSONResponse(body, status_code=status, headers=headers)


def refusal(status: int, message: str, *, allow: str | None = None) -> JSONResponse:
    return error_response(status, CODES.get(status, ErrorCode.BAD_REQUEST), message, with_data=True,
                          headers={"Allow": allow} if allow else None)


class JsonHttpErrors:
    """Mixin for strawberry's ASGI view: the rules above."""

    async def run(self, request, context=UNSET, root_value=UNSET):
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                # a mutation over GET, or any operation over GET where GET is switched off
                return refusal(405, "only queries may be sent with GET; send mutations with POST"
                               if self.allow_queries_via_get else "send GraphQL requests with POST", allow="POST")
            if exc.status_code == 405:
                return refusal(405, exc.reason, allow="GET, POST" if self.allow_queries_via_get else "POST")
            return refusal(exc.status_code, exc.reason)
