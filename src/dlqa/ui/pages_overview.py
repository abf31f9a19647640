"""The overview page: the latest ``dlqa check`` with its gates, and the latest runs."""

from __future__ import annotations

from typing import Any

from dlqa.ui.web import render


def overview(request: Any) -> Any:
    return render(request, "overview.html.j2", title="Overview")


def _routes() -> list[Any]:
    from starlette.routing import Route

    return [Route("/", overview)]


ROUTES = _routes()
