"""The dashboard's ASGI app and ``serve_ui``, which runs it until Ctrl-C."""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.ui.web import STATIC, TOKEN_COOKIE, Forbidden, UiSettings, render, template_environment

# Each module lists its pages in ROUTES; one module per part of the dashboard.
PAGE_MODULES = (
    "dlqa.ui.pages_overview",
    "dlqa.ui.pages_runs",
    "dlqa.ui.pages_data",
    "dlqa.ui.pages_stages",
    "dlqa.ui.pages_review",
    "dlqa.ui.pages_adjudicate",
)
UI_HINT = "pip install 'dlqa[serve]'"


def require_web() -> None:
    for module in ("starlette", "uvicorn"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise UsageError(f"the dashboard needs {module}, not installed", hint=UI_HINT) from None


def _routes() -> list[Any]:
    routes: list[Any] = []
    for name in PAGE_MODULES:
        routes.extend(importlib.import_module(name).ROUTES)
    return routes


def create_app(settings: UiSettings) -> Any:
    """The dashboard over ``settings.store``."""
    require_web()
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    async def token_from_query(request: Request, call_next: Any) -> Any:
        # ?token=... once: remembered in a cookie (HttpOnly, this site only), then dropped
        # from the address so that it does not stay in the history or a screenshot.
        token = request.query_params.get("token")
        if token is None:
            return await call_next(request)
        query = "&".join(
            f"{key}={value}" for key, value in request.query_params.multi_items() if key != "token"
        )
        response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), 303)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    async def forbidden(request: Request, exc: Exception) -> Any:
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=403)
        return render(request, "error.html.j2", 403, title="Read-only", message=str(exc))

    async def not_found(request: Request, exc: Exception) -> Any:
        message = exc.message if isinstance(exc, UsageError) else "no such page"
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=404)
        return render(request, "error.html.j2", 404, title="Not found", message=message)

    app = Starlette(
        routes=[*_routes(), Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=token_from_query)],
        exception_handlers={Forbidden: forbidden, UsageError: not_found, 404: not_found},
    )
    app.state.settings = settings
    app.state.templates = template_environment()
    return app


def warm_in_background(settings: UiSettings) -> threading.Thread:
    """Compute the recent snapshots' diffs in a daemon thread (seconds each for a million
    samples), so that the dashboard answers at once and those pages are ready when opened."""
    from dlqa.ui.data_views import warm_recent_diffs

    thread = threading.Thread(
        target=warm_recent_diffs, args=(settings.store,), name="dlqa-ui-warm", daemon=True
    )
    thread.start()
    return thread


def serve_ui(settings: UiSettings, *, port: int = 8765, ready: Any = None) -> None:
    """Serve the dashboard on ``settings.host`` until Ctrl-C or SIGTERM."""
    from dlqa.execute.http_server import bind, run_app_until_stopped

    app = create_app(settings)
    sock = bind(settings.host, port)
    bound = sock.getsockname()[1]
    if not settings.loopback and not settings.token:
        print(f"dlqa: the dashboard listens on {settings.host} without a token: it is "
              "read-only (set DLQA_UI_TOKEN or --token to allow review verdicts)",
              file=sys.stderr)  # fmt: skip
    print(f"dlqa: dashboard on http://{settings.host}:{bound} (Ctrl-C to stop)",
          file=sys.stderr, flush=True)  # fmt: skip
    warm_in_background(settings)
    run_app_until_stopped(app, sock, ready)
    print("dlqa: dashboard stopped", file=sys.stderr)


__all__ = ["PAGE_MODULES", "create_app", "require_web", "serve_ui"]
