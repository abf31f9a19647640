"""The review queue: the stored review samples (/review), one sample's items reviewed one at
a time with the keyboard (/review/{id}), each verdict saved the moment it is made."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dlqa.core.errors import UsageError
from dlqa.store import Store
from dlqa.ui.review_views import (
    BadRequest,
    class_names,
    estimate_view,
    item_media,
    item_view,
    parse_verdict,
    queue_items,
    read_only_reason,
    require_storable,
    review_lines,
    reviewer_of,
    shown,
    verdicts_in_force,
)
from dlqa.ui.web import can_write, page_links, paging_of, render, require_write, store_of

# Keys 1-9 pick one of the first nine classes; more are chosen from the list or typed.
NUMBERED_CLASSES = 9


def review_list(request: Request) -> Any:
    store = store_of(request)
    paging = paging_of(request)
    reviews = store.review_samples_page(paging.offset, paging.per_page)
    total = store.count_review_samples()
    return render(
        request,
        "review_list.html.j2",
        title="Review",
        lines=review_lines(store, reviews),
        shown=shown,
        pager=page_links(request, paging, len(reviews), total),
    )


def review_queue(request: Request) -> Any:
    store = store_of(request)
    review = store.get_review_sample(request.path_params["review_id"])
    items = queue_items(store, review)
    classes = class_names(store, review)
    writable = can_write(request)
    data = {
        "review_id": review.id,
        "writable": writable,
        "items": items,
        "classes": [{"value": name, "name": shown(name)} for name in classes],
        "estimate": estimate_view(store, review),
        "verdicts_url": f"/api/review/{review.id}/verdicts",
        "media_url": f"/api/review/{review.id}/media/",
    }
    return render(
        request,
        "review_queue.html.j2",
        title=f"Review {review.id}",
        review=review,
        source=shown(review.source),
        items=items,
        classes=[shown(name) for name in classes[:NUMBERED_CLASSES]],
        more_classes=[shown(name) for name in classes[NUMBERED_CLASSES:]],
        data=data,
        read_only=read_only_reason(request),
    )


def review_media(request: Request) -> Any:
    store = store_of(request)
    review = store.get_review_sample(request.path_params["review_id"])
    try:
        return JSONResponse(item_media(store, review, request.path_params["index"]))
    except BadRequest as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)


async def post_verdict(request: Request) -> Any:
    require_write(request)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
    store = store_of(request)
    try:
        saved = await run_in_threadpool(save_verdict, store, request.path_params["review_id"], body)
    except BadRequest as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    return JSONResponse(saved)


def save_verdict(store: Store, review_id: int, body: Any) -> dict[str, Any]:
    """Check and store one verdict; the item as it now stands and the new estimate."""
    try:
        review = store.get_review_sample(review_id)
    except UsageError as exc:
        raise BadRequest(404, f"{exc.message}: the verdict was not saved") from None
    verdict = parse_verdict(body, review, class_names(store, review))
    reviewer = reviewer_of(body)
    require_storable(verdict.sample_id, verdict.correct_label, verdict.note, reviewer)
    try:
        store.add_verdicts(review.id, [verdict], reviewer=reviewer)
    except ValueError as exc:  # the store's own check: it stored nothing
        raise BadRequest(409, str(exc)) from None
    stored = verdicts_in_force(store, review.source, [verdict.sample_id])[verdict.sample_id]
    index = review.ids.index(verdict.sample_id)
    return {
        "saved": True,
        "item": item_view(index, review.items[index], stored),
        "reviewer": stored.reviewer,
        "saved_at": stored.created_at.isoformat(timespec="seconds"),
        "estimate": estimate_view(store, review),
    }


ROUTES = [
    Route("/review", review_list),
    Route("/review/{review_id:int}", review_queue),
    Route("/api/review/{review_id:int}/media/{index:int}", review_media),
    Route("/api/review/{review_id:int}/verdicts", post_verdict, methods=["POST"]),
]
