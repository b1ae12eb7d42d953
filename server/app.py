"""The Starlette application: ``/graphql`` (API and GraphiQL) and ``/healthz``."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import func, select, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import AsyncSession
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
from db.errors import ErrorCode, Unauthenticated
from resolvers.loaders import Loaders
from server.context import RequestContext
from server.graphiql import OfflineGraphiQL, static_route
from server.http import JsonHttpErrors, error_response
from server.body_limits import RequestRefused, guard_request
from server.settings import Settings

log = logging.getLogger("wangge")
ANONYMOUS = "anonymous"


class _Unavailable(Exception):
    """No connection could be had in time: the answer is 503 SERVICE_UNAVAILABLE, not 500."""

    def __init__(self, message: str) -> None:
        self.message = message


class WanggeGraphQL(JsonHttpErrors, OfflineGraphiQL, GraphQL):
    """Strawberry's ASGI view with our per-operation context and its clean-up.

    A POST body is read and checked first (size, JSON nesting, and without a token the
    document: ``server.body_limits``), so such a refusal never takes a pooled connection.
    """

    def __init__(self, schema, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=settings.allow_get)
        self.settings = settings

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        try:
            # The body's size and nesting (and an anonymous document) before a connection is taken.
            receive = await guard_request(scope, receive, self.settings, self.schema)
            await super().__call__(scope, receive, send)
        except RequestRefused as exc:
            await exc.response()(scope, receive, send)
        except _Unavailable as exc:
            await error_response(503, ErrorCode.SERVICE_UNAVAILABLE, exc.message,
                                 headers={"Retry-After": "1"})(scope, receive, send)
        finally:
            ctx = scope.get("wangge.context")
            if ctx is not None:
                await ctx.close()

    async def get_context(self, request, response) -> RequestContext:
        """Check out the request's one connection, authenticate on it, build the scope.

        A token that does not authenticate (expired, revoked, forged) does not fail here:
        the request continues as anonymous with ``auth_error`` set, and
        ``server.lifecycle.RequireLogin`` answers 401 unless the operation only logs in
        or refreshes, so a client holding a stale token can still get a new one.
        """
        state = request.app.state
        conn = await checkout(state.engine, self.settings)
        session = AsyncSession(bind=conn, sync_session_class=ScopedSession, expire_on_commit=False)
        try:
            auth_error = None
            # The request's transaction begins here and the login's read joins it: a
            # transaction of its own cost a BEGIN and a ROLLBACK more on every request.
            await session.connection()
            async with AsyncSession(bind=conn, expire_on_commit=False) as system:
                version = None
                try:  # the policy version rides along with the login's statement
                    principal, version = await authenticate(
                        system, request.headers.get("authorization"), self.settings.secret, also=POLICY_VERSION)
                except Unauthenticated as exc:
                    principal, auth_error = None, exc.message
                if version is None:
                    version = (await system.execute(select(POLICY_VERSION))).scalar()
                refresh_policies(state, version)
        except BaseException:
            await session.close()
            await conn.close()
            raise
        scope = Scope(state.enforcer, principal.subject if principal else ANONYMOUS,
                      principal.grants if principal else ())
        session.info["scope"] = scope
        ctx = RequestContext(
            request=request, response=response, settings=self.settings, app_state=state, session=session,
            scope=scope, connection=conn, user=principal.user if principal else None,
            session_id=principal.session_id if principal else None, auth_error=auth_error,
            budget=self.settings.max_objects,
        )
        ctx.loaders = Loaders(ctx)
        request.scope["wangge.context"] = ctx
        return ctx


async def checkout(engine, settings: Settings):
    """The request's pooled connection, or ``_Unavailable`` within ``pool_timeout`` seconds.

    Waiting longer helps nobody: a client retrying after ``Retry-After`` is better served
    than one whose request hangs for the pool's default 30 s and then fails as a 500.
    """
    try:
        return await engine.connect()
    except SATimeoutError:
        log.warning("connection pool exhausted: answering SERVICE_UNAVAILABLE")
        raise _Unavailable("the server is busy; try again in a moment") from None
    except (OperationalError, InterfaceError, OSError) as exc:
        log.warning("database unreachable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise _Unavailable("the database is not reachable right now; try again in a moment") from None


#: The policy file's version, bumped by ``reloadPolicies`` in whichever process ran it
#: (0 until the first reload, so a fetched version is never NULL).
POLICY_VERSION = func.coalesce(select(PolicyState.version).where(PolicyState.id == 1).scalar_subquery(), 0)


def refresh_policies(state, version: int | None) -> None:
    """Reload the policy file when another process (``reloadPolicies``) bumped its version."""
    if version is None or version == state.policy_version:
        return
    state.policy_version = version  # tried once per version, so a broken file is not re-read per request
    try:
        state.enforcer = load_enforcer(state.settings.policies_path)
    except (OSError, ValueError) as exc:  # reloadPolicies checked it; it changed since: keep what runs
        log.error("policies version %s not loaded, the running ones stay: %s", version, exc)
        return
    log.info("policies reloaded (version %s)", version)


async def healthz(request: Request) -> JSONResponse:
    """Whether the database answers, on a one-connection pool of its own.

    A monitor must get its answer while every GraphQL connection is busy (and tell a
    busy server from a dead one), so the check never queues behind API requests.
    """
    try:
        async with request.app.state.health_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok", "database": "reachable"})
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        log.warning("health check failed: %s", exc)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)


def create_app(settings: Settings | None = None) -> Starlette:
    from server.graphql_schema import schema

    settings = settings or Settings.from_env()
    engine = make_async_engine(settings.database_url, **settings.pool_options())
    health_engine = make_async_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=2)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await engine.dispose()
        await health_engine.dispose()

    app = Starlette(
        routes=[Route("/healthz", healthz), Route("/graphql", WanggeGraphQL(schema, settings)), static_route()],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.health_engine = health_engine
    app.state.enforcer = load_enforcer(settings.policies_path)
    app.state.policy_version = 0  # what was loaded just now is the current file; 0: never reloaded
    return app
