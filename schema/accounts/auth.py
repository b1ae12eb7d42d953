"""GraphQL of logging in: ``login``, ``refreshToken``, ``logout``.

Send the access token as ``Authorization: Bearer <accessToken>``; before ``expiresAt``
passes, exchange the refresh token for a new pair with ``refreshToken`` (the old pair stops
working). A failed login answers one message whatever went wrong, in ``errors``.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.accounts import auth
from schema.accounts.types import Viewer
from schema.extend import fields_of
from schema.mutations import Result, mutation


def _tokens(field: str):
    return lambda _info, tokens: getattr(tokens, field)


TOKENS = (
    Result("access_token", str, "the access token", convert=_tokens("access_token"),
           field_description="Send as `Authorization: Bearer <token>`."),
    Result("refresh_token", str, "the refresh token", convert=_tokens("refresh_token"),
           field_description="Exchange for new tokens with `refreshToken`; keep it secret."),
    Result("expires_at", datetime, "when the access token ends", convert=_tokens("expires_at"),
           field_description="When the access token stops working."),
    Result("viewer", Viewer, "who logged in", convert=lambda _info, tokens: Viewer.from_data(tokens.viewer)),
)
AUTH_PAYLOAD = "New tokens, or why there are none."


@fields_of("Mutation")
@strawberry.type
class AuthMutation:
    login = mutation(auth.login, "Log in. Repeated wrong passwords lock the account for a while; the error never says "
                     "why a login failed.", arguments={"username": str, "password": str}, results=TOKENS,
                     payload="AuthPayload", payload_description=AUTH_PAYLOAD)
    refresh_token = mutation(auth.refresh, "Exchange a refresh token for new tokens; the old ones stop working.",
                             arguments={"refresh_token": str}, results=TOKENS, payload="AuthPayload",
                             payload_description=AUTH_PAYLOAD, name="refreshToken")
    logout = mutation(auth.logout, "End this login: its access and refresh tokens are refused from now on.",
                      results=Result("revoked", bool, "whether the login was closed", convert=lambda _info, done: done,
                                     field_description="True if this request's login session was open and is now closed."),
                      payload_description="Whether the login session was closed.")
