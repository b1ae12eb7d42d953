"""GraphiQL at ``GET /graphql`` without internet: the page and its vendored assets.

Strawberry's own GraphiQL page loads React, GraphiQL and the explorer plugin from a CDN,
so on an intranet without internet it stays a blank "Loading...". Here the same page
(``server/graphiql.html``, copied from strawberry 0.341's with only the asset URLs changed)
loads them from this server: ``server/static/graphiql/``, vendored from the npm releases by
``scripts/vendor_graphiql.sh`` (versions and hashes in its ``VERSIONS``) and shipped as
package data, served by ``static_route()`` at ``/graphiql/static/``.

``OfflineGraphiQL`` is the mixin for the strawberry view: it answers the IDE request with
that page. The page keeps strawberry's behaviour: headers editor, the fetcher posting to
the page's own URL, and strawberry's integrity values, which the vendored files match.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static" / "graphiql"
PAGE_TEMPLATE = HERE / "graphiql.html"
STATIC_PATH = "/graphiql/static"
PLACEHOLDER = "{{STATIC}}"


@functools.lru_cache(maxsize=8)
def graphiql_page(root_path: str = "") -> str:
    """The page, its asset URLs under ``root_path`` (the path the app is mounted at)."""
    prefix = html.escape(root_path.rstrip("/") + STATIC_PATH, quote=True)
    return PAGE_TEMPLATE.read_text(encoding="utf-8").replace(PLACEHOLDER, prefix)


def static_route() -> Mount:
    """The vendored assets at ``/graphiql/static/`` (for the application's routes)."""
    return Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="graphiql-static")


class OfflineGraphiQL:
    """Mixin for ``strawberry.asgi.GraphQL``: the GraphiQL page from local assets only."""

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_page(request.scope.get("root_path", "")))
