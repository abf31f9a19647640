"""The demo's dashboard part: a spot-check sample of the training images waits in the review
queue, and every page of ``dlqa ui`` is served once over the demo's store, so that the demo
fails when a page of the dashboard breaks on real results."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from dlqa.config import Config
from dlqa.store import Store, open_store, resolve_database_url

# A sitting's worth of spot checks for the review queue (the CLI's default is 100).
REVIEW_SIZE = 30
REVIEW_SEED = 20261130
REVIEW_DIR = "review"


@dataclass
class DashboardTour:
    """Each page fetched once: path -> (HTTP status, milliseconds)."""

    pages: dict[str, tuple[int, float]] = field(default_factory=dict)
    review_id: int | None = None
    to_adjudicate: int = 0  # items of the annotators' votes in the adjudication queue
    skipped: str | None = None  # why the dashboard was not served

    @property
    def broken(self) -> list[str]:
        return [f"{path} ({status})" for path, (status, _) in self.pages.items() if status != 200]

    def line(self, directory: Path) -> str:
        if self.skipped:
            return f"Dashboard: not served ({self.skipped})."
        slowest = max((ms for _, ms in self.pages.values()), default=0.0)
        served = f"{len(self.pages) - len(self.broken)} of {len(self.pages)} dashboard pages"
        tail = f"; broken: {', '.join(self.broken)}" if self.broken else ""
        review = (
            f"{REVIEW_SIZE} spot checks in the review queue (review {self.review_id})"
            if self.review_id is not None
            else "no review sample (no snapshot of the training images)"
        )
        return (
            f"Dashboard: {served} served from this store (slowest {slowest:.0f} ms), with "
            f"{review} and {self.to_adjudicate} disputed items in the adjudication queue{tail}. "
            f"Browse them: `cd {directory} && dlqa ui`."
        )


def _store(config: Config) -> Store:
    url = resolve_database_url(None, config.store.url, config.base_dir)
    return open_store(url, project_dir=config.base_dir, artifacts=config.store.artifacts)


def _fetch(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # a loopback server
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, (time.perf_counter() - started) * 1000


def _paths(store: Store, run_id: int, review_id: int | None) -> list[str]:
    from dlqa.ui.web import NAVIGATION

    paths = [path for path, _ in NAVIGATION]
    paths += [f"/runs/{run_id}", f"/runs/{run_id}/report"]
    snapshots = store.list_snapshots()
    if snapshots:
        paths.append(f"/data/snapshots/{snapshots[0].id}")
    if review_id is not None:
        paths.append(f"/review/{review_id}")
    return paths


def run_dashboard_part(config: Config, check_run_id: int) -> DashboardTour:
    """Draw the review sample from the snapshot of the `dlqa check` run, then serve the
    dashboard on a loopback port and fetch each of its pages once."""
    from dlqa.core.errors import UsageError
    from dlqa.execute.http_server import app_serving
    from dlqa.runner.labels import items_to_adjudicate, latest_agreement_runs
    from dlqa.runner.review import sample_for_review
    from dlqa.ui import UiSettings, create_app
    from dlqa.ui.app import require_web

    tour = DashboardTour()
    try:
        require_web()
    except UsageError as exc:  # the serve extra is not installed
        tour.skipped = f"{exc.message}; {exc.hint}" if exc.hint else exc.message
        return tour
    with _store(config) as store:
        # The training images' snapshot: the check run also profiled the eval sets.
        assert config.data.source is not None
        images = str(config.resolve(config.data.source))
        snapshot = next((s for s in store.list_snapshots(images) if s.run_id == check_run_id), None)
        if snapshot is not None:
            drawn = sample_for_review(
                store, snapshot.id, out_dir=config.base_dir / REVIEW_DIR,
                size=REVIEW_SIZE, seed=REVIEW_SEED,
            )  # fmt: skip
            tour.review_id = drawn.review_id
        tour.to_adjudicate = sum(
            len(items_to_adjudicate(store, run.id)) for run in latest_agreement_runs(store).values()
        )
        with app_serving(create_app(UiSettings(store=store))) as base:
            for path in _paths(store, check_run_id, tour.review_id):
                tour.pages[path] = _fetch(base + path)
    return tour


__all__ = ["REVIEW_DIR", "REVIEW_SIZE", "DashboardTour", "run_dashboard_part"]
