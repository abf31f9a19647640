"""The data pages: snapshots of each source, one snapshot (summary, problems, its per-sample
table a page at a time), the diff of two snapshots, and stored artifacts (thumbnails)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from dlqa.core.errors import UsageError
from dlqa.store.artifacts import is_digest
from dlqa.ui.data_views import CHANGE_KINDS, kept_diff, shown, table_columns
from dlqa.ui.sample_table import (
    TablePage,
    available_filters,
    page_of_positions,
    positions_of_ids,
    read_page,
)
from dlqa.ui.web import page_links, paging_of, render, store_of

SHORT_FINGERPRINT = 12
MAX_CLASS_LINES = 50
# Media types an artifact is served as; any other (HTML, SVG, XML, scripts) as plain bytes, so
# that a stored file can never run script in the dashboard's origin.
SAFE_MEDIA_PREFIXES = ("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/")
SAFE_MEDIA_TYPES = ("text/plain", "text/csv", "application/json", "application/octet-stream")
FALLBACK_MEDIA_TYPE = "application/octet-stream"


def short_fingerprint(fingerprint: str) -> str:
    return fingerprint.split(":", 1)[-1][:SHORT_FINGERPRINT]


def data_index(request: Request) -> Response:
    store = store_of(request)
    paging = paging_of(request)
    total = store.count_snapshots()
    snapshots = store.snapshot_page(paging.offset, paging.per_page)
    return render(
        request,
        "data_index.html.j2",
        title="Data",
        snapshots=snapshots,
        short=short_fingerprint,
        shown=shown,
        pager=page_links(request, paging, len(snapshots), total),
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "yes" if value else ""
    return shown(value) if value is not None else ""


def _sample_rows(page: TablePage, columns: list[str], thumbnails: dict[str, str]) -> list[dict]:
    return [
        {
            "sample_id": shown(row.get("sample_id")),
            "cells": [_cell(row.get(name)) for name in columns if name != "sample_id"],
            "thumbnail": thumbnails.get(row.get("sample_id") or ""),
        }
        for row in page.rows
    ]


def _flagged_by_check(
    request: Request, file: pq.ParquetFile, run_id: int, check: str, columns: list[str]
) -> TablePage:
    """One page of the samples that the run's results of ``check`` name in their evidence."""
    paging = paging_of(request)
    flagged = store_of(request).flagged_sample_ids(run_id, check)
    positions = positions_of_ids(file, flagged)
    return page_of_positions(file, positions, columns, paging.offset, paging.per_page)


def _sample_table(request: Request, snapshot: Any, thumbnails: dict[str, str]) -> dict[str, Any]:
    """The snapshot's per-sample table, one page of it; ``missing`` says why there is none."""
    store = store_of(request)
    try:
        file = pq.ParquetFile(store.artifacts.path(snapshot.table_digest))
    except UsageError as exc:
        return {"missing": exc.message}
    except (OSError, pa.ArrowException) as exc:
        return {"missing": f"the per-sample table {snapshot.table_digest} cannot be read: {exc}"}
    columns = table_columns(file.schema_arrow, snapshot.summary)
    filters = available_filters(file)
    chosen = next((f for f in filters if f.name == request.query_params.get("flag")), None)
    check = request.query_params.get("check") or None
    paging = paging_of(request)
    if check is not None:
        page = _flagged_by_check(request, file, snapshot.run_id, check, columns)
        chosen = None
    else:
        page = read_page(file, columns, paging.offset, paging.per_page, chosen)
    return {
        "check": check,
        "missing": None,
        "columns": [name for name in columns if name != "sample_id"],
        "rows": _sample_rows(page, columns, thumbnails),
        "filters": filters,
        "flag": chosen,
        "pager": page_links(request, paging, len(page.rows), page.total),
    }


def snapshot_page(request: Request) -> Response:
    store = store_of(request)
    snapshot = store.get_snapshot(int(request.path_params["snapshot_id"]))
    run = store.get_run(snapshot.run_id)
    thumbnails = {
        str(sample_id): digest
        for sample_id, digest in (run.report.get("thumbnails") or {}).items()
        if is_digest(digest)
    }
    class_counts = (snapshot.summary.get("class_counts") or {}).get("all") or {}
    return render(
        request,
        "data_snapshot.html.j2",
        title=f"Snapshot {snapshot.id}",
        snapshot=snapshot,
        previous_id=store.previous_snapshot_id(snapshot.id, snapshot.source),
        run=run,
        short=short_fingerprint,
        shown=shown,
        counts=store.run_result_counts(run.id),
        problems=store.problem_results(run.id),
        classes=sorted(class_counts.items(), key=lambda item: -item[1])[:MAX_CLASS_LINES],
        n_classes=len(class_counts),
        properties=(snapshot.summary.get("properties") or {}),
        table=_sample_table(request, snapshot, thumbnails),
    )


def _snapshot_of(request: Request, name: str) -> Any:
    raw = request.query_params.get(name, "").strip()
    if not raw.isdigit():
        raise UsageError(f"name two snapshots to compare: ?a=ID&b=ID ({name!r} is {raw!r})")
    return store_of(request).get_snapshot(int(raw))


def diff_page(request: Request) -> Response:
    old, new = _snapshot_of(request, "a"), _snapshot_of(request, "b")
    if old.source != new.source:
        message = (
            f"snapshots {old.id} and {new.id} are of different sources "
            f"({shown(old.source)} and {shown(new.source)}): a diff compares two snapshots "
            "of one source"
        )
        return render(request, "error.html.j2", 400, title="Not comparable", message=message)
    diff = kept_diff(store_of(request), old, new)
    kind = request.query_params.get("change")
    kind = kind if kind in CHANGE_KINDS else None
    paging = paging_of(request)
    rows, total = diff.rows(kind, paging.offset, paging.per_page)
    return render(
        request,
        "data_diff.html.j2",
        title=f"Snapshot {old.id} → {new.id}",
        old=old,
        new=new,
        diff=diff.header,
        kinds=CHANGE_KINDS,
        kind=kind,
        rows=[{**row, "sample_id": shown(row["sample_id"])} for row in rows],
        shown=shown,
        pager=page_links(request, paging, len(rows), total),
    )


def served_media_type(media_type: str | None) -> str:
    """The type an artifact is sent as: its own when it cannot hold script, else bytes."""
    text = (media_type or "").split(";", 1)[0].strip().lower()
    if text in SAFE_MEDIA_TYPES or text.startswith(SAFE_MEDIA_PREFIXES):
        return text
    return FALLBACK_MEDIA_TYPE


def artifact(request: Request) -> Response:
    store = store_of(request)
    digest = request.path_params["digest"]
    media_type = store.artifact_media_type(digest) if is_digest(digest) else None
    if media_type is None or not store.artifacts.exists(digest):
        raise UsageError(f"no stored artifact {shown(digest)[:80]}")
    return FileResponse(
        store.artifacts.path(digest),
        media_type=served_media_type(media_type),
        headers={
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=86400, immutable",  # content-addressed
        },
    )


ROUTES = [
    Route("/data", data_index),
    Route("/data/snapshots/{snapshot_id:int}", snapshot_page),
    Route("/data/diff", diff_page),
    Route("/artifacts/{digest}", artifact),
]
