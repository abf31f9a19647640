"""What the review queue shows and saves: review samples with their progress, one item's
media, the running error-rate estimate (the data stage's own estimator), and a verdict
checked before it is stored."""

from __future__ import annotations

import getpass
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dlqa.data.context import DataProfile
from dlqa.data.review import (
    ERROR_VERDICTS,
    VERDICT_WRONG_LABEL,
    ErrorRateEstimate,
    ReviewRow,
    class_sizes,
    estimate_error_rate,
    load_reviews,
)
from dlqa.data.review_gallery import Media, collect_media
from dlqa.report.media_types import image_data_uri
from dlqa.sources.folder import display_name
from dlqa.store import VERDICTS, NewVerdict, ReviewSampleRecord, Store, VerdictRecord
from dlqa.ui.web import access_refusal

# Per-sample tables kept open: a review page and each verdict read the same one or two.
_PROFILES_KEPT = 4
_profiles: OrderedDict[str, DataProfile] = OrderedDict()
_profiles_lock = threading.Lock()


class BadRequest(Exception):
    """A request the dashboard answers with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def shown(text: Any) -> str:
    """Text a page can hold: a name read with surrogate escapes shows its bytes as ``\\xff``."""
    return "" if text is None else display_name(str(text))


def read_only_reason(request: Any) -> str:
    """Why this request may not save (the dashboard's own words); empty when it may."""
    return access_refusal(request)


def os_user() -> str | None:
    """The reviewer a verdict is saved under unless the request names one: the server's
    user (the dashboard is a person's own, or a team's behind a token)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        return None


def profile_of(store: Store, digest: str, source: str) -> DataProfile | None:
    """The per-sample table ``digest`` (None when it is gone), kept open for the next
    request: tables are content-addressed, so a kept one never goes stale."""
    with _profiles_lock:
        if digest in _profiles:
            _profiles.move_to_end(digest)
            return _profiles[digest]
    path = store.artifacts.path(digest)
    if not path.is_file():
        return None
    profile = DataProfile.from_parquet(path, source)
    with _profiles_lock:
        _profiles[digest] = profile
        while len(_profiles) > _PROFILES_KEPT:
            _profiles.popitem(last=False)
    return profile


def verdicts_in_force(store: Store, source: str, ids: Iterable[str]) -> dict[str, VerdictRecord]:
    """sample id -> its verdict in force, for the given samples of ``source``."""
    wanted = set(ids)
    return {v.sample_id: v for v in store.current_verdicts(source) if v.sample_id in wanted}


@dataclass(frozen=True)
class ReviewLine:
    """A row of /review: a drawn sample and how far its review got."""

    review: ReviewSampleRecord
    random: int
    reviewed: int
    errors: int


def review_lines(store: Store, reviews: list[ReviewSampleRecord]) -> list[ReviewLine]:
    by_source: dict[str, dict[str, VerdictRecord]] = {}
    lines = []
    for review in reviews:
        if review.source not in by_source:
            current = store.current_verdicts(review.source)
            by_source[review.source] = {v.sample_id: v for v in current}
        in_force = by_source[review.source]
        verdicts = [in_force[i] for i in review.ids if i in in_force]
        lines.append(
            ReviewLine(
                review=review,
                random=sum(bool(item.get("random")) for item in review.items),
                reviewed=len(verdicts),
                errors=sum(v.verdict in ERROR_VERDICTS for v in verdicts),
            )
        )
    return lines


def _latest_profile(store: Store, review: ReviewSampleRecord) -> DataProfile | None:
    """The source's latest profile (the estimate's weights), else the reviewed snapshot's."""
    latest = store.list_snapshots(source=review.source)
    snapshot = latest[0] if latest else store.get_snapshot(review.snapshot_id)
    return profile_of(store, snapshot.table_digest, snapshot.source)


def estimate_view(store: Store, review: ReviewSampleRecord) -> dict[str, Any]:
    """The running error-rate estimate of the review's source, for the page and its script."""
    profile = _latest_profile(store, review)
    if profile is None:
        return {"rate": None, "text": "no estimate: the source's per-sample table is missing"}
    reviews = load_reviews(store, profile)
    if reviews is None:
        return {"rate": None, "text": "error rate: no verdict yet"}
    return _estimate_dict(estimate_error_rate(reviews, class_sizes(profile)))


def _estimate_dict(estimate: ErrorRateEstimate) -> dict[str, Any]:
    flagged = estimate.flagged
    apart = (
        f"; flagged samples: {flagged['errors']} of {flagged['n']} confirmed as errors"
        if flagged["n"]
        else ""
    )
    view: dict[str, Any] = {"rate": estimate.rate, "n": estimate.n, "flagged": flagged}
    if estimate.rate is None:
        return {**view, "text": f"error rate: no random draw reviewed yet{apart}"}
    low, high, level = estimate.interval.low, estimate.interval.high, estimate.interval.level
    return {
        **view,
        "low": low,
        "high": high,
        "level": level,
        "text": f"error rate: {estimate.rate:.1%} ({round(level * 100)} % interval "
        f"{low:.1%} to {high:.1%}, n = {estimate.n} random draws){apart}",
    }


def class_names(store: Store, review: ReviewSampleRecord) -> list[str]:
    """The classes a correct label may name: the review's labels, and those of the reviewed
    snapshot and of the source's latest one (a class added since)."""
    names = {str(item["label"]) for item in review.items if item.get("label") is not None}
    latest = store.list_snapshots(source=review.source)[:1]
    for snapshot in [store.get_snapshot(review.snapshot_id), *latest]:
        profile = profile_of(store, snapshot.table_digest, snapshot.source)
        if profile is not None and profile.has_column("label"):
            names.update(profile.codes("label")[0])
    return sorted(names)


def queue_items(store: Store, review: ReviewSampleRecord) -> list[dict[str, Any]]:
    """The review's items for the page's script: the id to post back, what to show, and the
    verdict in force."""
    verdicts = verdicts_in_force(store, review.source, review.ids)
    return [item_view(index, item, verdicts.get(str(item["id"])))
            for index, item in enumerate(review.items)]  # fmt: skip


def item_view(index: int, item: dict[str, Any], verdict: VerdictRecord | None) -> dict[str, Any]:
    flagged_by = [str(check) for check in item.get("flagged_by") or ()]
    why = (["random"] if item.get("random") else []) + flagged_by
    return {
        "index": index,
        "id": str(item["id"]),
        "name": shown(item["id"]),
        "label": None if item.get("label") is None else shown(item["label"]),
        "why": [shown(reason) for reason in why],
        "verdict": verdict and verdict.verdict,
        "correct_label": verdict and shown(verdict.correct_label),
        "note": verdict and shown(verdict.note),
    }


def item_media(store: Store, review: ReviewSampleRecord, index: int) -> dict[str, Any]:
    """One item's picture, player or snippet: read again from its file where it is still
    there, else the thumbnail its profile run stored, else why there is none."""
    if not 0 <= index < len(review.items):
        raise BadRequest(404, f"review sample {review.id} has no item number {index}")
    row = ReviewRow.from_item(review.items[index])
    snapshot = store.get_snapshot(review.snapshot_id)
    profile = profile_of(store, snapshot.table_digest, snapshot.source)
    if profile is None:
        media = Media(problem="the snapshot's table is gone")
    elif display_name(row.id) != row.id:  # a lone surrogate: no table can hold this id
        media = Media(problem="not in the snapshot's table")
    else:
        stored = _stored_thumbnail(store, snapshot.run_id, row.id)
        media = collect_media(profile, [row], stored)[row.id]
    text = None if media.text is None else shown(media.text)
    shows = media.image or media.audio or text is not None
    problem = media.problem or ("" if shows else "no preview")
    return {"image": media.image, "audio": media.audio, "text": text,
            "problem": problem and f"the file is not available ({shown(problem)})"}  # fmt: skip


def _stored_thumbnail(store: Store, run_id: int, sample_id: str) -> dict[str, bytes]:
    digest = (store.get_run(run_id).report.get("thumbnails") or {}).get(sample_id)
    path = store.artifacts.path(digest) if digest else None
    stored = path.read_bytes() if path is not None and path.is_file() else None
    return {sample_id: stored} if stored and image_data_uri(stored) else {}


def parse_verdict(body: Any, review: ReviewSampleRecord, classes: list[str]) -> NewVerdict:
    """The verdict a request asks to save, or :class:`BadRequest` saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest(400, "send a JSON object: {sample_id, verdict, correct_label, note}")
    sample_id, verdict = body.get("sample_id"), body.get("verdict")
    correct, note = body.get("correct_label") or None, body.get("note") or ""
    if not all(isinstance(v, str | None) for v in (sample_id, verdict, correct, note)):
        raise BadRequest(400, "sample_id, verdict, correct_label and note are strings")
    item = review.item(sample_id) if sample_id is not None else None
    if item is None:
        raise BadRequest(409, f"item {shown(sample_id)!r} is not in review sample {review.id} "
                              f"({shown(review.source)}): nothing was saved")  # fmt: skip
    if verdict not in VERDICTS:
        raise BadRequest(400, f"verdict {shown(verdict)!r} is not one of: {', '.join(VERDICTS)}")
    if verdict == VERDICT_WRONG_LABEL and not (correct or "").strip():
        raise BadRequest(400, "a wrong_label verdict needs the correct label (correct_label)")
    label = item.get("label")
    if verdict != VERDICT_WRONG_LABEL and correct:
        raise BadRequest(400, f"a correct label goes with wrong_label only, not {verdict}")
    if verdict == VERDICT_WRONG_LABEL and correct == label:
        raise BadRequest(400, f"wrong_label with the label the item has ({shown(label)!r}) "
                              "as the correct one: choose another class")  # fmt: skip
    if verdict == VERDICT_WRONG_LABEL and classes and correct not in classes:
        allowed = ", ".join(map(shown, classes[:20])) + (", ..." if len(classes) > 20 else "")
        raise BadRequest(400, f"correct label {shown(correct)!r} is not a class of "
                              f"{shown(review.source)}: one of {allowed}")  # fmt: skip
    return NewVerdict(
        sample_id=str(sample_id),
        verdict=verdict,
        note=note,
        label=None if label is None else str(label),
        correct_label=correct,
    )


def reviewer_of(body: dict[str, Any]) -> str | None:
    given = body.get("reviewer")
    return given.strip()[:255] if isinstance(given, str) and given.strip() else os_user()


def require_storable(*texts: str | None) -> None:
    """Refuse text the databases cannot hold (a lone surrogate of an undecodable file name)
    before anything is written."""
    for text in texts:
        if text is not None and display_name(text) != text:
            raise BadRequest(400, f"{shown(text)!r} is not valid UTF-8 text: nothing was saved")


__all__ = [
    "BadRequest",
    "ReviewLine",
    "class_names",
    "estimate_view",
    "item_media",
    "item_view",
    "os_user",
    "parse_verdict",
    "profile_of",
    "queue_items",
    "read_only_reason",
    "require_storable",
    "review_lines",
    "reviewer_of",
    "shown",
    "verdicts_in_force",
]
