"""The overview page: the latest ``dlqa check`` with its gates, and the latest runs."""

from __future__ import annotations

from typing import Any

from dlqa.ui.stage_views import (
    displayable,
    gate_rows,
    result_row,
    run_header,
    run_rows,
    verdict_line,
)
from dlqa.ui.web import page_links, paging_of, render, store_of

CHECK_KIND = "check"
LATEST_RUNS = 10
RESULTS_PER_PAGE = 100


def _latest_check(request: Any) -> dict[str, Any] | None:
    """The latest ``dlqa check`` run: its header, verdict, one page of results and gates."""
    store = store_of(request)
    run = store.latest_run((CHECK_KIND,))
    if run is None:
        return None
    paging = paging_of(request, RESULTS_PER_PAGE)
    results = store.results_page(run.id, paging.offset, paging.per_page)
    by_check = store.check_status_counts(run.id)
    total = sum(sum(counts.values()) for counts in by_check.values())
    return {
        "run": run_header(run),
        "verdict": verdict_line(store, run, total),
        "failed": bool(run.exit_code),
        "rows": [result_row(result) for result in results],
        "pager": page_links(request, paging, len(results), total),
        "gates": gate_rows(run, by_check),
    }


def overview(request: Any) -> Any:
    store = store_of(request)
    latest = store.run_summaries(limit=LATEST_RUNS)
    context = {
        "check": _latest_check(request),
        "kinds": store.count_runs_by_kind(),
        "latest": run_rows(store, latest),
    }
    return render(request, "overview.html.j2", title="Overview", **displayable(context))


def _routes() -> list[Any]:
    from starlette.routing import Route

    return [Route("/", overview)]


ROUTES = _routes()
