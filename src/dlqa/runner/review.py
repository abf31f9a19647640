"""Spot checks end to end: draw a review sample from a stored snapshot and write its files;
import a filled-in review file and estimate the error rate (`dlqa data review`)."""

from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass
from pathlib import Path

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult, Status
from dlqa.data.context import DataProfile
from dlqa.data.review import (
    ErrorRateEstimate,
    ReviewRow,
    allocation_of,
    class_sizes,
    draw_review_sample,
    estimate_error_rate,
    load_reviews,
)
from dlqa.data.review_file import (
    file_ids,
    parse_review_file,
    read_review_rows,
    read_sidecar,
    write_review_csv,
    write_sidecar,
)
from dlqa.data.review_gallery import collect_media, render_gallery
from dlqa.store import ReviewSampleRecord, SnapshotRecord, Store, VerdictRecord

# Random draws: a sitting of review (minutes, not hours), and enough for a clean dataset to
# pass the default max_error_rate of 5 %: 0 errors in 100 has a 95 % Wilson upper bound of
# 3.7 % (73 is the least that can pass). A few errors in 100 stay inconclusive, honestly:
# telling 2 % from 5 % takes about 300 reviews.
DEFAULT_SIZE = 100
CSV_NAME, HTML_NAME = "review.csv", "review.html"
_FLAGGING = (Status.FAIL, Status.WARN, Status.ERROR)


@dataclass(frozen=True)
class SampleOutcome:
    review_id: int
    snapshot: SnapshotRecord
    seed: int
    size: int
    rows: list[ReviewRow]
    csv_path: Path
    html_path: Path
    json_path: Path
    previews: int  # cards with a picture, a player or a text

    @property
    def random(self) -> int:
        return sum(row.random for row in self.rows)

    @property
    def flagged(self) -> int:
        return sum(bool(row.flagged_by) for row in self.rows)


def new_seed() -> int:
    """A fresh seed, short enough to read out and type again."""
    return secrets.randbelow(1_000_000)


def flagged_by_check(results: list[CheckResult]) -> dict[str, list[str]]:
    """sample id -> the checks whose failing, warning or crashed result names it."""
    flagged: dict[str, set[str]] = {}
    for result in results:
        if result.status in _FLAGGING:
            for sample_id in result.flagged_ids():
                flagged.setdefault(sample_id, set()).add(result.check_id)
    return {sample_id: sorted(checks) for sample_id, checks in flagged.items()}


def sample_for_review(
    store: Store,
    snapshot_ref: int | str | None = None,
    *,
    out_dir: Path | None = None,
    size: int = DEFAULT_SIZE,
    seed: int | None = None,
    strata: str = "label",
) -> SampleOutcome:
    """Draw a review sample from a stored snapshot (default: the latest) with every sample its
    run flagged, record it, and write review.csv, review.json and review.html to ``out_dir``
    (default: ./review-<id>)."""
    if size < 0:
        raise UsageError(f"--size {size}: a sample size is not negative")
    if out_dir is not None:
        _check_out_dir(out_dir)
    snapshot = store.get_snapshot("latest" if snapshot_ref is None else snapshot_ref)
    profile = _profile_of(store, snapshot)
    if strata != "label" and strata != "none" and not profile.has_column(strata):
        raise UsageError(f"cannot stratify by {strata!r}: the profile has no such column")
    seed = new_seed() if seed is None else seed
    flagged = flagged_by_check(store.results_for_run(snapshot.run_id))
    rows = draw_review_sample(profile, flagged, size, seed, strata)
    review_id = store.add_review_sample(
        snapshot.id,
        seed=seed,
        size=size,
        strata=strata,
        allocation=allocation_of(profile, rows, strata),
        items=[row.to_item() for row in rows],
    )
    folder = out_dir if out_dir is not None else Path(f"review-{review_id}")
    _check_out_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / CSV_NAME, folder / HTML_NAME
    write_review_csv(csv_path, rows)
    classes = sorted(class_sizes(profile))
    json_path = write_sidecar(
        csv_path,
        {
            "review_id": review_id,
            "snapshot_id": snapshot.id,
            "source": snapshot.source,
            "seed": seed,
            "size": size,
            "strata": strata,
            "classes": classes,
            "samples": len(rows),
        },
    )
    stored = _stored_thumbnails(store, snapshot.run_id, {row.id for row in rows})
    media = collect_media(profile, rows, stored)
    facts = {
        "review": str(review_id),
        "source": snapshot.source,
        "snapshot": f"{snapshot.id} ({snapshot.n_samples} samples)",
        "seed": str(seed),
        "drawn": f"{sum(r.random for r in rows)} at random (stratified by {strata}), "
        f"{sum(bool(r.flagged_by) for r in rows)} flagged by checks",
    }
    page = render_gallery(
        rows, media, title=f"Review {review_id}: {snapshot.source}", facts=facts, classes=classes
    )
    html_path.write_text(page, encoding="utf-8")
    previews = sum(1 for m in media.values() if m.image or m.audio or m.text is not None)
    return SampleOutcome(
        review_id, snapshot, seed, size, rows, csv_path, html_path, json_path, previews
    )


def _check_out_dir(folder: Path) -> None:
    """Refuse to overwrite a review file someone has started filling in."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: is a file; give a folder")
    existing = folder / CSV_NAME
    if existing.is_file():
        try:
            started = any(row.filled for row in read_review_rows(existing))
        except UsageError:
            started = True
        if started:
            raise UsageError(
                f"{existing} already holds verdicts; a new sample would overwrite them",
                hint=f"import it first (dlqa data review import {existing}), or choose another "
                "--out folder",
            )


@dataclass(frozen=True)
class ImportOutcome:
    review: ReviewSampleRecord
    stored: int  # verdicts stored
    unchanged: int  # verdicts equal to the one already in force (not stored again)
    not_reviewed: int  # rows with an empty verdict
    counts: dict[str, int]  # stored verdicts by kind
    estimate: ErrorRateEstimate | None  # over every verdict in force on the source


def import_review_file(
    store: Store, path: Path, *, reviewer: str | None = None, review_id: int | None = None
) -> ImportOutcome:
    """Check a filled-in review file against its review sample and store its verdicts.

    The review is ``review_id``, else the one the sidecar JSON names, else the newest review
    sample that drew every id of the file. Nothing is stored when any row is wrong.
    """
    review = _find_review(store, path, review_id)
    drawn = {str(item["id"]): item.get("label") for item in review.items}
    classes = _classes(store, review)
    parsed = parse_review_file(path, drawn, classes)
    reviewer = reviewer if reviewer is not None else _user()
    current = {v.sample_id: v for v in store.current_verdicts(review.source)}
    fresh = [
        v
        for v in parsed.verdicts
        if not _same(current.get(v.sample_id), v.verdict, v.correct_label, v.note, reviewer)
    ]
    if fresh:
        store.add_verdicts(review.id, fresh, reviewer=reviewer)
    counts: dict[str, int] = {}
    for v in fresh:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return ImportOutcome(
        review=review,
        stored=len(fresh),
        unchanged=len(parsed.verdicts) - len(fresh),
        not_reviewed=parsed.not_reviewed,
        counts=counts,
        estimate=_estimate(store, review),
    )


def _same(
    current: VerdictRecord | None,
    verdict: str,
    correct: str | None,
    note: str,
    reviewer: str | None,
) -> bool:
    """Whether a verdict repeats the one in force (a file imported twice adds nothing)."""
    return current is not None and (
        current.verdict,
        current.correct_label or None,
        current.note,
        current.reviewer,
    ) == (verdict, correct or None, note, reviewer)


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        return None


def _find_review(store: Store, path: Path, review_id: int | None) -> ReviewSampleRecord:
    if review_id is not None:
        return store.get_review_sample(review_id)
    sidecar = read_sidecar(path)
    if sidecar is not None:
        return store.get_review_sample(sidecar["review_id"])
    ids = set(file_ids(path))
    reviews = store.list_review_samples()
    if not reviews:
        raise UsageError(
            "no review sample is stored, so there is nothing this file can answer",
            hint="draw one with `dlqa data review sample`, fill in its review.csv, import it",
        )
    for review in reviews:  # newest first
        if ids <= set(review.ids):
            return review
    # None drew them all: check against the closest, so that the message names the strays.
    return max(reviews, key=lambda r: len(ids & set(r.ids)))


def _profile_of(store: Store, snapshot: SnapshotRecord) -> DataProfile:
    path = store.artifacts.path(snapshot.table_digest)
    if not path.is_file():
        raise UsageError(
            f"the per-sample table of snapshot {snapshot.id} is missing from {path.parent}",
            hint="profile the source again (dlqa data profile) and sample that snapshot",
        )
    return DataProfile.from_parquet(path, snapshot.source)


def _classes(store: Store, review: ReviewSampleRecord) -> set[str]:
    """The classes a correct label may name: those of the reviewed snapshot, and of the
    source's latest snapshot (a class added since)."""
    classes = {str(item["label"]) for item in review.items if item.get("label") is not None}
    snapshots = [store.get_snapshot(review.snapshot_id)]
    latest = store.list_snapshots(source=review.source)
    snapshots += latest[:1]
    for snapshot in snapshots:
        path = store.artifacts.path(snapshot.table_digest)
        if path.is_file():
            classes.update(DataProfile.from_parquet(path, snapshot.source).codes("label")[0])
    return classes


def _estimate(store: Store, review: ReviewSampleRecord) -> ErrorRateEstimate | None:
    """The estimate over the verdicts in force, weighted by the source's latest profile."""
    latest = store.list_snapshots(source=review.source)
    snapshot = latest[0] if latest else store.get_snapshot(review.snapshot_id)
    path = store.artifacts.path(snapshot.table_digest)
    if not path.is_file():
        return None
    profile = DataProfile.from_parquet(path, snapshot.source)
    reviews = load_reviews(store, profile)
    return None if reviews is None else estimate_error_rate(reviews, class_sizes(profile))


def _stored_thumbnails(store: Store, run_id: int, ids: set[str]) -> dict[str, bytes]:
    """Thumbnails the profile run stored (of its evidence), for samples whose files are gone."""
    stored = {}
    for sample_id, digest in (store.get_run(run_id).report.get("thumbnails") or {}).items():
        path = store.artifacts.path(digest)
        if sample_id in ids and path.is_file():
            stored[sample_id] = path.read_bytes()
    return stored


__all__ = [
    "DEFAULT_SIZE",
    "ImportOutcome",
    "SampleOutcome",
    "flagged_by_check",
    "import_review_file",
    "new_seed",
    "sample_for_review",
]
