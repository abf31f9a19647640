"""What every dashboard page shares: settings, the store, rendering, paging and write access."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from dlqa._version import __version__
from dlqa.store import Store, redact_url

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "dlqa_ui_token"
TOKEN_HEADER = "x-dlqa-token"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500

# The pages in the navigation bar, in order: (path, label).
NAVIGATION = (
    ("/", "Overview"),
    ("/runs", "Runs"),
    ("/data", "Data"),
    ("/eval", "Evaluation"),
    ("/deploy", "Deployment"),
    ("/exp", "Experiments"),
    ("/releases", "Releases"),
    ("/monitor", "Training"),
    ("/review", "Review"),
    ("/adjudicate", "Adjudication"),
)


@dataclass
class UiSettings:
    """How the dashboard serves one store.

    ``writable``: whether review and adjudication verdicts may be saved. On a loopback address
    anyone on the machine may; on any other address only a request carrying ``token`` may,
    and without a token the dashboard is read-only.
    """

    store: Store
    host: str = "127.0.0.1"
    token: str | None = None
    loopback: bool = True

    @property
    def writable_without_token(self) -> bool:
        return self.loopback and not self.token


class Forbidden(Exception):
    """A write the dashboard refuses (read-only, or a missing or wrong token)."""


def settings_of(request: Any) -> UiSettings:
    return request.app.state.settings


def store_of(request: Any) -> Store:
    return settings_of(request).store


def request_token(request: Any) -> str | None:
    return request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE)


def can_write(request: Any) -> bool:
    settings = settings_of(request)
    if settings.writable_without_token:
        return True
    given = request_token(request)
    return bool(settings.token and given and hmac.compare_digest(given, settings.token))


def access_refusal(request: Any) -> str:
    """Why this request may not save verdicts (the dashboard's own words); empty when it may."""
    if can_write(request):
        return ""
    settings = settings_of(request)
    if not settings.token:
        return (
            f"the dashboard is read-only: it listens on {settings.host}, not a loopback "
            "address, and no token was set (start it with --token or DLQA_UI_TOKEN)"
        )
    return ("this request carries no valid token: open the dashboard's URL with ?token=... "
            "once, or send the X-DLQA-Token header")  # fmt: skip


def require_write(request: Any) -> None:
    """Raise :class:`Forbidden`, saying why, unless this request may save verdicts.

    Writes are JSON posted from the dashboard's own pages. A page of another site can post a
    form to a loopback address without the browser asking first, but not a JSON body, and
    the browser names its origin: so both are required, which keeps another site open in the
    same browser from saving verdicts.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Forbidden("verdicts are saved as JSON (Content-Type: application/json)")
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden(f"a write from another site ({origin}) is refused")
    refusal = access_refusal(request)
    if refusal:
        raise Forbidden(refusal)


@dataclass(frozen=True)
class Paging:
    """One page of a long list: ``page`` counts from 1."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def paging_of(request: Any, per_page: int = DEFAULT_PER_PAGE) -> Paging:
    """The page a request asks for (``?page=N&per_page=M``), bad values read as defaults."""

    def number(name: str, default: int, most: int) -> int:
        raw = request.query_params.get(name, "")
        return min(max(int(raw), 1), most) if raw.isdigit() else default

    return Paging(number("page", 1, 10**9), number("per_page", per_page, MAX_PER_PAGE))


def page_links(request: Any, paging: Paging, shown: int, total: int | None) -> dict[str, Any]:
    """Previous / next links for a page that showed ``shown`` rows (``total`` when known)."""

    def link(page: int) -> str:
        query = dict(request.query_params)
        query["page"] = str(page)
        return f"{request.url.path}?{urlencode(query)}"

    last = None if total is None else max(1, -(-total // paging.per_page))
    more = shown == paging.per_page if total is None else paging.page < (last or 1)
    return {
        "page": paging.page,
        "last": last,
        "total": total,
        "previous": link(paging.page - 1) if paging.page > 1 else None,
        "next": link(paging.page + 1) if more else None,
    }


def template_environment() -> Any:
    """The dashboard's jinja2 environment: the report's settings over the dashboard's
    templates."""
    from dlqa.report.html import template_environment as environment_over

    return environment_over(TEMPLATES)


def render(request: Any, template: str, status_code: int = 200, **context: Any) -> Any:
    """The page ``template`` rendered with ``context`` and what the layout needs."""
    from starlette.responses import HTMLResponse

    settings = settings_of(request)
    environment = request.app.state.templates
    html = environment.get_template(template).render(
        navigation=NAVIGATION,
        current=request.url.path,
        dlqa_version=__version__,
        store_url=redact_url(settings.store.url),
        writable=can_write(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


__all__ = [
    "DEFAULT_PER_PAGE",
    "NAVIGATION",
    "STATIC",
    "TEMPLATES",
    "TOKEN_COOKIE",
    "TOKEN_HEADER",
    "Forbidden",
    "access_refusal",
    "Paging",
    "UiSettings",
    "can_write",
    "page_links",
    "paging_of",
    "render",
    "require_write",
    "settings_of",
    "store_of",
    "template_environment",
]
