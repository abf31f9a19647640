"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against ``dlqa ui``
on a loopback port over a store that the real CLI populated (tests/e2e/ui_store.py).

Every page of the navigation and a run, a snapshot and a diff page answer 200 with their
heading, log no console error and request nothing beyond 127.0.0.1; screenshots of each stay
in test-artifacts/ui/. Hostile file names and labels show as text and never run script.
Five review verdicts and one adjudication are given with the keyboard alone and read back
from the store; a dashboard without a token on a non-loopback address refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dlqa.store import DATABASE_URL_ENV
from dlqa.ui import UiSettings
from dlqa.ui.web import NAVIGATION
from tests.e2e.ui_browser import (
    PageWatch,
    assert_nothing_injected,
    chromium_browser,
    dashboard_in_thread,
    dashboard_process,
    screenshot,
    visit,
    wait_for,
)
from tests.e2e.ui_store import (
    HOSTILE_FILE,
    HOSTILE_LABEL,
    HOSTILE_VOTE,
    NON_UTF8_FILE,
    QUOTE_FILE,
    UiProject,
    build_ui_project,
)

pytestmark = pytest.mark.slow

HOSTILE_ID = f"cat/{HOSTILE_FILE}"
QUOTE_ID = f"dog/{QUOTE_FILE}"
# A name that is not UTF-8 is shown with its bytes escaped, as the reports show it.
NON_UTF8_ID = "dog/" + NON_UTF8_FILE.decode("ascii", errors="backslashreplace")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as opened:
        yield opened


@pytest.fixture(scope="module")
def project(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiProject]:
    """The populated project (built once; after ``browser`` so that a skip costs nothing)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(DATABASE_URL_ENV, raising=False)
        yield build_ui_project(tmp_path_factory.mktemp("ui") / "project")


@pytest.fixture(scope="module")
def dashboard(project: UiProject) -> Iterator[str]:
    """The real ``dlqa ui --port N`` over the project's store; its base URL."""
    with dashboard_process(project.root, project.store_url) as url:
        yield url


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[[], tuple[Any, PageWatch]]]:
    """Opens a fresh page (its own browser context) with a watch on it."""
    contexts: list[Any] = []

    def opener() -> tuple[Any, PageWatch]:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        watch = PageWatch()
        watch.attach(page)
        return page, watch

    yield opener
    for context in contexts:
        context.close()


# --- helpers ----------------------------------------------------------------------------------


def tour(project: UiProject) -> list[tuple[str, str, str]]:
    """(name, path, text its heading holds) of every page the tour visits."""
    first, second = project.snapshots[0], project.snapshots[1]
    pages = [(label.lower(), path, label) for path, label in NAVIGATION]
    return [
        *pages,
        ("run", f"/runs/{project.profile_run}", str(project.profile_run)),
        ("snapshot", f"/data/snapshots/{first}", f"Snapshot {first}"),
        ("diff", f"/data/diff?a={first}&b={second}", f"Snapshot {first} → {second}"),
    ]


TOUR_NAMES = [label.lower() for _, label in NAVIGATION] + ["run", "snapshot", "diff"]


def assert_clean(watch: PageWatch) -> None:
    assert watch.problems() == []


def tour_problems(page: Any, watch: PageWatch, base: str, name: str, path: str,
                  heading: str, prefix: str) -> list[str]:  # fmt: skip
    """Visit one page of the tour and screenshot it; what is wrong with it."""
    response = visit(page, base + path)
    h1 = page.locator("main h1").first.inner_text() if page.locator("main h1").count() else ""
    screenshot(page, f"{prefix}{name}")
    problems = [] if response.status == 200 else [f"status {response.status}"]
    if heading.lower() not in h1.lower():
        problems.append(f"heading {h1!r}, expected it to hold {heading!r}")
    if not any(url.startswith(base) for url in watch.requests):
        problems.append("the watch saw no request to the dashboard")  # the watch works
    return [f"{path}: {problem}" for problem in problems + watch.problems()]


# --- the tour ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TOUR_NAMES)
def test_every_page_answers_with_its_heading_offline_and_without_errors(
    project: UiProject, dashboard: str, open_page: Any, name: str
) -> None:
    page, watch = open_page()
    _, path, heading = next(entry for entry in tour(project) if entry[0] == name)
    assert tour_problems(page, watch, dashboard, name, path, heading, prefix="") == []


@pytest.mark.postgres
def test_the_tour_on_postgresql(
    browser: Any, open_page: Any, tmp_path: Path, postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    project = build_ui_project(tmp_path / "project", store_url=postgres_url)
    with project.open_store() as store, dashboard_in_thread(UiSettings(store=store)) as base:
        problems = []
        for name, path, heading in tour(project):
            page, watch = open_page()
            problems += tour_problems(page, watch, base, name, path, heading, "postgresql-")
            page.context.close()  # its connections end before the server stops
    assert problems == []


# --- evidence and hostile names ---------------------------------------------------------------


def test_the_profile_run_shows_its_evidence_gallery_with_thumbnails(
    project: UiProject, dashboard: str, open_page: Any
) -> None:
    page, watch = open_page()
    visit(page, f"{dashboard}/runs/{project.profile_run}")
    report = page.frame_locator("iframe").first
    thumbnails = report.locator("img[src^='data:image/']")
    thumbnails.first.wait_for()
    assert thumbnails.count() >= 1
    # The black frame under the hostile name is data.dark's evidence: its tile names it.
    assert report.get_by_text(HOSTILE_ID, exact=False).count() >= 1
    assert_nothing_injected(report)
    page.locator("iframe").first.evaluate("frame => frame.scrollIntoView()")
    thumbnails.first.evaluate("image => image.scrollIntoView({block: 'center'})")
    screenshot(page, "evidence-gallery", full_page=False)
    assert_clean(watch)


def review_position(project: UiProject, sample_id: str) -> int:
    """Where ``sample_id`` stands in the review sample, from 1 (the queue's ?item=)."""
    with project.open_store() as store:
        return store.get_review_sample(project.review_id).ids.index(sample_id) + 1


def hostile_pages(project: UiProject) -> list[str]:
    first, second = project.snapshots[0], project.snapshots[1]
    return [
        f"/data/snapshots/{first}",
        f"/data/diff?a={first}&b={second}",
        f"/runs/{project.profile_run}",
        f"/review/{project.review_id}?item={review_position(project, HOSTILE_ID)}",
        "/adjudicate",
    ]


@pytest.mark.parametrize("index", range(5))
def test_hostile_names_and_labels_show_as_text_and_never_run(
    project: UiProject, dashboard: str, open_page: Any, index: int
) -> None:
    path = hostile_pages(project)[index]
    page, watch = open_page()
    assert visit(page, dashboard + path).status == 200
    scopes = [page, *(page.frame_locator("iframe").nth(i) for i in range(
        page.locator("iframe").count()))]  # fmt: skip
    # All text, hidden parts too (the review queue's label picker opens on a key).
    text = "\n".join(scope.locator("body").text_content() for scope in scopes)
    expected = [HOSTILE_VOTE] if path == "/adjudicate" else [HOSTILE_ID, HOSTILE_LABEL]
    if path.startswith("/data/snapshots"):
        expected += [QUOTE_ID, NON_UTF8_ID]
    for name in expected:
        assert name in text, f"{name!r} not shown as text on {path}"
    for scope in scopes:
        assert_nothing_injected(scope)
    assert watch.dialogs == []
    assert_clean(watch)


# --- the review and adjudication queues, with the keyboard alone ------------------------------


def queue_data(page: Any, element_id: str) -> dict[str, Any]:
    return page.evaluate(f"() => JSON.parse(document.getElementById('{element_id}').textContent)")


def current_review_item(page: Any) -> str:
    return page.locator("#review-item").get_attribute("data-index") or ""


def give_verdict(page: Any, *keys: str) -> int:
    """Press ``keys`` on the current item; wait until it is saved; returns its index."""
    index = int(current_review_item(page))
    for key in keys:
        page.keyboard.press(key)
    page.wait_for_function(
        "index => document.querySelector(`.review-strip-item[data-index='${index}']`)"
        ".dataset.state === 'saved'",
        arg=index,
    )
    return index


def test_five_items_reviewed_with_the_keyboard_are_stored(
    project: UiProject, dashboard: str, open_page: Any
) -> None:
    page, watch = open_page()
    visit(page, f"{dashboard}/review/{project.review_id}")
    page.locator("#review-item[data-item-id]:not([data-item-id=''])").wait_for()
    data = queue_data(page, "review-data")
    items, classes = data["items"], [c["value"] for c in data["classes"]]
    assert data["writable"] and len(items) >= 6

    first = give_verdict(page, "o")
    label = items[int(current_review_item(page))]["label"]
    right = next(name for name in classes if name != label)
    relabelled = give_verdict(page, "w", str(classes.index(right) + 1), "Enter")
    bad = give_verdict(page, "b")
    page.keyboard.press("j")  # skip one item: it stays unreviewed
    skipped = int(current_review_item(page)) - 1
    fourth = give_verdict(page, "o")
    fifth = give_verdict(page, "o")
    screenshot(page, "review-queue")
    assert_clean(watch)

    expected = {
        items[first]["id"]: ("ok", None),
        items[relabelled]["id"]: ("wrong_label", right),
        items[bad]["id"]: ("bad_sample", None),
        items[fourth]["id"]: ("ok", None),
        items[fifth]["id"]: ("ok", None),
    }
    assert len(expected) == 5 and items[skipped]["id"] not in expected
    with project.open_store() as store:
        stored = wait_for(lambda: len(store.current_verdicts(project.source)) >= 5 and
                          store.current_verdicts(project.source), "five verdicts")  # fmt: skip
    assert {v.sample_id: (v.verdict, v.correct_label) for v in stored} == expected
    assert {v.review_id for v in stored} == {project.review_id}
    relabelled_record = next(v for v in stored if v.verdict == "wrong_label")
    assert relabelled_record.label == label


def test_an_adjudication_made_with_the_keyboard_is_stored(
    project: UiProject, dashboard: str, open_page: Any
) -> None:
    page, watch = open_page()
    visit(page, f"{dashboard}/adjudicate")
    data = queue_data(page, "adjudicate-data")
    assert len(data["items"]) >= 2
    page.keyboard.press("j")  # the second item: moving works too
    second = data["items"][1]
    page.keyboard.press("2")
    page.locator("#adjudicate-item-1[data-state='saved']").wait_for()
    screenshot(page, "adjudication-queue")
    assert_clean(watch)

    with project.open_store() as store:
        decided = store.current_adjudications(second["source"])
    assert [(r.item_id, r.label, r.run_id) for r in decided] == [
        (second["item_id"], second["labels"][1], second["run_id"])
    ]
    assert second["run_id"] in (project.agreement_run, project.check_run)


def test_the_adjudication_queue_lists_each_disputed_item_once(
    project: UiProject, dashboard: str, open_page: Any
) -> None:
    # `dlqa labels agreement votes.csv` and `dlqa check` ([labels] agreement) measured the
    # same table: one queue of its disputed items, not one per way of naming the file.
    page, watch = open_page()
    visit(page, f"{dashboard}/adjudicate?per_page=500")
    page_items = queue_data(page, "adjudicate-data")["items"]
    summary = page.locator("#adjudicate-summary").inner_text()
    shown = [item["item_id"] for item in page_items]
    assert len(set(shown)) == len(shown), f"items listed twice: {summary}"
    assert len({item["source"] for item in page_items}) == 1
    assert_clean(watch)


# --- read-only --------------------------------------------------------------------------------


def test_without_a_token_off_loopback_the_dashboard_is_read_only(
    project: UiProject, open_page: Any
) -> None:
    with project.open_store() as store:
        before = len(store.verdict_history(project.source))
        settings = UiSettings(store=store, host="192.0.2.10", loopback=False)
        with dashboard_in_thread(settings) as base:
            page, watch = open_page()
            visit(page, f"{base}/review/{project.review_id}")
            assert "read-only" in page.locator("header").inner_text()
            assert page.locator("#review-readonly").is_visible()
            assert page.locator("#verdict-ok").is_disabled()
            page.keyboard.press("o")
            item = queue_data(page, "review-data")["items"][0]
            answer = page.evaluate(
                "([url, body]) => dlqa.postJson(url, body)",
                [f"/api/review/{project.review_id}/verdicts",
                 {"sample_id": item["id"], "verdict": "ok"}],
            )  # fmt: skip
            screenshot(page, "read-only-review")
            page.context.close()  # its connections end before the server stops
        assert answer["status"] == 403 and "read-only" in answer["data"]["error"]
        assert len(store.verdict_history(project.source)) == before
    assert watch.dialogs == [] and watch.outside == []
