"""The runs pages: every stored run (paged, filtered), one run with its results and report, and
the run's JSON report for scripts."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import OrderedDict
from typing import Any

from dlqa.sources.folder import display_name
from dlqa.store.records import RUN_FAILED, RUN_FINISHED, RUN_INTERRUPTED, RUN_RUNNING
from dlqa.ui.stage_views import displayable, result_row, run_header, run_rows, verdict_line
from dlqa.ui.web import page_links, paging_of, render, store_of

RUN_STATUSES = (RUN_RUNNING, RUN_FINISHED, RUN_FAILED, RUN_INTERRUPTED)
RESULTS_PER_PAGE = 100
REPORTS_KEPT = 16


def kinds_filter(raw: str) -> tuple[str, ...] | None:
    """``?kind=`` as the store's kinds filter: comma-separated kinds, "exp." a prefix."""
    kinds = tuple(part.strip() for part in raw.split(",") if part.strip())
    return kinds or None


def runs(request: Any) -> Any:
    store = store_of(request)
    kind = request.query_params.get("kind", "").strip()
    status = request.query_params.get("status", "").strip()
    wanted_status = status if status in RUN_STATUSES else None
    paging = paging_of(request)
    kinds = kinds_filter(kind)
    summaries = store.run_summaries(kinds, wanted_status, paging.offset, paging.per_page)
    total = store.count_runs(kinds, wanted_status)
    context = {
        "rows": run_rows(store, summaries),
        "pager": page_links(request, paging, len(summaries), total),
        "kind": kind,
        "status": wanted_status or "",
        "kinds": list(store.count_runs_by_kind()),
    }
    return render(
        request, "runs.html.j2", title="Runs", statuses=RUN_STATUSES, **displayable(context)
    )


def _run_id(request: Any) -> int:
    return int(request.path_params["run_id"])


def run_page(request: Any) -> Any:
    store = store_of(request)
    run = store.get_run(_run_id(request))  # a missing run: UsageError, shown as a 404
    paging = paging_of(request, RESULTS_PER_PAGE)
    results = store.results_page(run.id, paging.offset, paging.per_page)
    total = sum(store.result_counts([run.id])[run.id].values())
    header = run_header(run)
    context = {
        "title": f"Run {run.id}: {header['title']}",
        "run": header,
        "verdict": verdict_line(store, run, total),
        "rows": [result_row(result) for result in results],
        "pager": page_links(request, paging, len(results), total),
    }
    return render(request, "run.html.j2", **displayable(context))


class ReportCache:
    """The HTML reports of ended runs, the latest few: drawing a report's charts takes about
    a second, and an ended run's report never changes (a running one is never kept)."""

    def __init__(self, size: int = REPORTS_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> str | None:
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
            return self._kept.get(key)

    def put(self, key: tuple[str, int], html: str) -> None:
        with self._lock:
            self._kept[key] = html
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)


def _report_html(request: Any, run_id: int) -> str:
    from dlqa.report.html import render_html
    from dlqa.runner.reports import load_report

    store = store_of(request)
    cache = getattr(request.app.state, "run_reports", None)
    if cache is None:
        cache = request.app.state.run_reports = ReportCache()
    key = (store.url, run_id)
    html = cache.get(key)
    if html is None:
        report = load_report(store, run_id)
        # display_name: a name read with surrogate escapes must not break the UTF-8 encoding.
        html = display_name(render_html(report))
        if report.status != RUN_RUNNING:
            cache.put(key, html)
    return html


def run_report(request: Any) -> Any:
    """The run's self-contained HTML report, shown in the run page's sandboxed frame."""
    from starlette.responses import HTMLResponse

    html = _report_html(request, _run_id(request))
    # Inline styles and pictures, and the report's own scripts by their hashes (expand and
    # collapse): no other script may run, in the frame or opened on its own.
    scripts = " ".join(f"'sha256-{digest}'" for digest in _script_hashes(html))
    policy = (
        "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; "
        f"script-src {scripts or chr(39) + 'none' + chr(39)}"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _script_hashes(html: str) -> list[str]:
    """The base64 sha256 of each inline script of a report. Every script in it is the
    template's own: user text is escaped, so it cannot open a <script> element."""
    return [
        base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        for body in _SCRIPT.findall(html)
    ]


def run_json(request: Any) -> Any:
    """The run's ``dlqa.report`` JSON document (what ``dlqa report --format json`` writes)."""
    from starlette.responses import Response

    from dlqa.report.json_report import report_to_dict
    from dlqa.runner.reports import load_report

    document = report_to_dict(load_report(store_of(request), _run_id(request)))
    # ASCII escapes: a surrogate-escaped file name comes back to a script as it was stored.
    body = json.dumps(document, ensure_ascii=True, allow_nan=False)
    return Response(body, media_type="application/json")


def _routes() -> list[Any]:
    from starlette.routing import Route

    return [
        Route("/runs", runs),
        Route("/runs/{run_id:int}", run_page),
        Route("/runs/{run_id:int}/report", run_report),
        Route("/api/runs/{run_id:int}", run_json),
    ]


ROUTES = _routes()

__all__ = ["ROUTES", "RUN_STATUSES", "kinds_filter"]
