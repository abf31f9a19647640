"""The adjudication queue (/adjudicate): the items annotators disagreed on, from the latest
agreement run of each annotation table, not yet decided; an adjudicator picks each final
label with a key, saved at once (POST /api/adjudicate)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dlqa.core.errors import UsageError
from dlqa.runner.labels import items_to_adjudicate, latest_agreement_runs, queue_of
from dlqa.store import AdjudicationRecord, Store
from dlqa.ui.review_views import (
    BadRequest,
    os_user,
    read_only_reason,
    require_storable,
    shown,
)
from dlqa.ui.web import page_links, paging_of, render, require_write, store_of

# Keys 1-9 pick one of an item's first nine labels (most given first); others are typed.
NUMBERED_LABELS = 9


@dataclass(frozen=True)
class DisputedItem:
    """An item of an agreement run's queue: every annotator's label, and the decision in
    force on it (None while undecided)."""

    run_id: int
    source: str
    item_id: str
    disagreement: float | None
    votes: list[tuple[str, str]]  # (annotator, label), by annotator
    counts: list[tuple[str, int]]  # label -> annotators who gave it, most given first
    decided: AdjudicationRecord | None


def disputed_items(store: Store) -> list[DisputedItem]:
    """Every item to adjudicate of the latest agreement run of each source, with its decision."""
    items = []
    for source, run in latest_agreement_runs(store).items():
        rows = items_to_adjudicate(store, run.id)
        decided = store.adjudications_of(source, [str(row["item"]) for row in rows])
        items.extend(_disputed(run.id, source, row, decided) for row in rows)
    return items


def _disputed(
    run_id: int, source: str, row: dict[str, Any], decided: dict[str, AdjudicationRecord]
) -> DisputedItem:
    votes = sorted((str(a), str(label)) for a, label in (row.get("labels") or {}).items())
    counts = Counter(label for _, label in votes)
    return DisputedItem(
        run_id=run_id,
        source=source,
        item_id=str(row["item"]),
        disagreement=row.get("disagreement"),
        votes=votes,
        counts=sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])),
        decided=decided.get(str(row["item"])),
    )


def _page_item(index: int, item: DisputedItem) -> dict[str, Any]:
    """What the template and the script need of one item (display text made printable)."""
    decided = item.decided
    return {
        "index": index,
        "run_id": item.run_id,
        "source": item.source,
        "item_id": item.item_id,
        "labels": [label for label, _ in item.counts],
        "shown": {
            "source": shown(item.source),
            "item": shown(item.item_id),
            "disagreement": item.disagreement,
            "votes": [(shown(a), shown(label)) for a, label in item.votes],
            "counts": [(shown(label), n) for label, n in item.counts[:NUMBERED_LABELS]],
            "more": [(shown(label), n) for label, n in item.counts[NUMBERED_LABELS:]],
            "final": decided and shown(decided.label),
            "by": decided and shown(decided.adjudicator or "-"),
            "at": decided and decided.created_at.strftime("%Y-%m-%d %H:%M"),
        },
    }


def adjudicate_page(request: Request) -> Any:
    store = store_of(request)
    paging = paging_of(request)
    show_decided = request.query_params.get("decided") == "1"
    everything = disputed_items(store)
    wanted = [item for item in everything if (item.decided is not None) == show_decided]
    page = wanted[paging.offset : paging.offset + paging.per_page]
    items = [_page_item(paging.offset + k, item) for k, item in enumerate(page)]
    script_data = {
        "items": [{key: item[key] for key in ("index", "run_id", "source", "item_id", "labels")}
                  for item in items],
    }  # fmt: skip
    return render(
        request,
        "adjudicate_queue.html.j2",
        title="Adjudication",
        items=items,
        show_decided=show_decided,
        undecided=sum(item.decided is None for item in everything),
        decided=sum(item.decided is not None for item in everything),
        sources=len({item.source for item in everything}),
        data=script_data,
        read_only=read_only_reason(request),
        pager=page_links(request, paging, len(page), len(wanted)),
    )


async def post_adjudication(request: Request) -> Any:
    require_write(request)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
    try:
        saved = await run_in_threadpool(save_adjudication, store_of(request), body)
    except BadRequest as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    return JSONResponse(saved)


def save_adjudication(store: Store, body: Any) -> dict[str, Any]:
    """Check and store one final label; what was stored."""
    if not isinstance(body, dict):
        raise BadRequest(400, "send a JSON object: {run_id, source, item_id, label, note}")
    run_id, source, item_id = body.get("run_id"), body.get("source"), body.get("item_id")
    label, note = body.get("label"), body.get("note") or ""
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        raise BadRequest(400, "run_id: the number of the agreement run whose queue showed it")
    if not all(isinstance(v, str) for v in (source, item_id, note)):
        raise BadRequest(400, "source, item_id and note are strings")
    if not isinstance(label, str) or not label.strip():
        raise BadRequest(400, "label: the final label, a non-empty string")
    _require_queued(store, run_id, source, item_id)
    adjudicator = body.get("adjudicator") if isinstance(body.get("adjudicator"), str) else None
    adjudicator = (adjudicator or "").strip()[:255] or os_user()
    require_storable(source, item_id, label, note, adjudicator)
    store.add_adjudication(source, item_id, label.strip(), note=note, adjudicator=adjudicator,
                           run_id=run_id)  # fmt: skip
    record = store.adjudications_of(source, [item_id])[item_id]
    return {
        "saved": True,
        "item_id": shown(item_id),
        "label": shown(record.label),
        "adjudicator": shown(record.adjudicator or ""),
        "saved_at": record.created_at.isoformat(timespec="seconds"),
    }


def _require_queued(store: Store, run_id: int, source: str, item_id: str) -> None:
    """Refuse an item that is not in the queue of agreement run ``run_id`` of ``source``."""
    try:
        run = store.get_run(run_id)
    except UsageError:
        raise BadRequest(404, f"no run {run_id}: nothing was saved") from None
    measured, queue = queue_of(store, run_id)
    if measured is None:
        raise BadRequest(404, f"run {run_id} is a {run.kind} run that measured no annotator "
                              "agreement: nothing was saved")  # fmt: skip
    if measured != source:
        raise BadRequest(409, f"run {run_id} measured {shown(measured)!r}, not "
                              f"{shown(source)!r}: nothing was saved")  # fmt: skip
    if item_id not in {str(row["item"]) for row in queue}:
        raise BadRequest(409, f"item {shown(item_id)!r} is not in the adjudication queue of "
                              f"run {run_id} ({shown(source)}): nothing was saved")  # fmt: skip


ROUTES = [
    Route("/adjudicate", adjudicate_page),
    Route("/api/adjudicate", post_adjudication, methods=["POST"]),
]
