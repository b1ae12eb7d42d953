"""GraphQL of logging in: ``login``, ``refreshToken``, ``logout``.

Send the access token as ``Authorization: Bearer <accessToken>``; before ``expiresAt``
passes, exchange the refresh token for a new pair with ``refreshToken`` (the old pair stops
working). A failed login answers one message whatever went wrong, in ``errors``.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.errors import Unauthenticated
from resolvers import auth
from schema.account import Viewer
from schema.errors import UserError, user_errors_from


@strawberry.type(description="New tokens, or why there are none.")
class AuthPayload:
    access_token: str | None = strawberry.field(default=None, description="Send as `Authorization: Bearer <token>`.")
    refresh_token: str | None = strawberry.field(default=None, description="Exchange for new tokens with `refreshToken`; keep it secret.")
    expires_at: datetime | None = strawberry.field(default=None, description="When the access token stops working.")
    viewer: Viewer | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, tokens: auth.Tokens) -> "AuthPayload":
        return cls(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                   expires_at=tokens.expires_at, viewer=Viewer.from_data(tokens.viewer))


@strawberry.type(description="Whether the login session was closed.")
class LogoutPayload:
    revoked: bool = strawberry.field(description="True if this request's login session was open and is now closed.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AuthMutation:
    @strawberry.mutation(description="Log in. Repeated wrong passwords lock the account for a while; the error never says why a login failed.")
    async def login(self, info: strawberry.Info, username: str, password: str) -> AuthPayload:
        try:
            return AuthPayload.of(await auth.login(info.context, username, password))
        except Unauthenticated as exc:
            return AuthPayload(errors=user_errors_from(exc))

    @strawberry.mutation(description="Exchange a refresh token for new tokens; the old ones stop working.")
    async def refresh_token(self, info: strawberry.Info, refresh_token: str) -> AuthPayload:
        try:
            return AuthPayload.of(await auth.refresh(info.context, refresh_token))
        except Unauthenticated as exc:
            return AuthPayload(errors=user_errors_from(exc))

    @strawberry.mutation(description="End this login: its access and refresh tokens are refused from now on.")
    async def logout(self, info: strawberry.Info) -> LogoutPayload:
        return LogoutPayload(revoked=await auth.logout(info.context))
