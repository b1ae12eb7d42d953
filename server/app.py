"""The Starlette application: ``/graphql`` (API and GraphiQL) and ``/healthz``."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from authz.enforcer import load_enforcer
from authz.gate import ScopedSession
from authz.principal import authenticate
from authz.scope import Scope
from db.accounts import PolicyState
from db.engine import make_async_engine
from db.errors import Unauthenticated
from resolvers.loaders import Loaders
from server.context import RequestContext
from server.settings import Settings

log = logging.getLogger("wangge")
ANONYMOUS = "anonymous"


class _AuthFailed(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


class WanggeGraphQL(GraphQL):
    """Strawberry's ASGI view with our per-operation context and its clean-up."""

    def __init__(self, schema, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self.settings = settings

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        try:
            await super().__call__(scope, receive, send)
        except _AuthFailed as exc:
            body = {"errors": [{"message": exc.message, "extensions": {"code": "UNAUTHENTICATED"}}]}
            await JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
        finally:
            ctx = scope.get("wangge.context")
            if ctx is not None:
                await ctx.session.close()

    async def get_context(self, request, response) -> RequestContext:
        state = request.app.state
        async with state.system_sessions() as system:
            await refresh_policies(system, state)
            try:
                principal = await authenticate(system, request.headers.get("authorization"), self.settings.secret)
            except Unauthenticated as exc:
                raise _AuthFailed(exc.message) from None
        session = state.scoped_sessions()
        scope = Scope(state.enforcer, principal.subject if principal else ANONYMOUS,
                      principal.grants if principal else ())
        session.info["scope"] = scope
        ctx = RequestContext(
            request=request, response=response, settings=self.settings, app_state=state, session=session,
            scope=scope, user=principal.user if principal else None,
            session_id=principal.session_id if principal else None,
        )
        ctx.loaders = Loaders(ctx)
        request.scope["wangge.context"] = ctx
        return ctx


async def refresh_policies(system, state) -> None:
    """Reload the policy file when another process (``reloadPolicies``) bumped its version."""
    row = (await system.execute(select(PolicyState.version).where(PolicyState.id == 1))).scalar()
    if row is not None and row != state.policy_version:
        state.enforcer = load_enforcer(state.settings.policies_path)
        state.policy_version = row
        log.info("policies reloaded (version %s)", row)


async def healthz(request: Request) -> JSONResponse:
    try:
        async with request.app.state.system_sessions() as session:
            await session.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok", "database": "reachable"})
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        log.warning("health check failed: %s", exc)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)


def create_app(settings: Settings | None = None) -> Starlette:
    from schema import schema

    settings = settings or Settings.from_env()
    engine = make_async_engine(settings.database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await engine.dispose()

    app = Starlette(
        routes=[Route("/healthz", healthz), Route("/graphql", WanggeGraphQL(schema, settings))],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.scoped_sessions = async_sessionmaker(engine, sync_session_class=ScopedSession, expire_on_commit=False)
    app.state.system_sessions = async_sessionmaker(engine, expire_on_commit=False)
    app.state.enforcer = load_enforcer(settings.policies_path)
    app.state.policy_version = None
    return app
