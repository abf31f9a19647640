"""The review queue of the dashboard (/review, /review/{id}, its verdict API), on SQLite and
on PostgreSQL: real profiles, real image files, the real app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from dlqa.store import RUN_FINISHED, Store
from tests.data.checks.conftest import build_profile
from tests.ui.conftest import make_client

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SURROGATE = "caf\udce9.png"


def stored_profile(store: Store, tmp_path: Path, rows: list[dict], source: str) -> int:
    """A snapshot of ``source`` whose per-sample table holds ``rows``; returns its id."""
    table = tmp_path / f"profile-{len(store.list_snapshots())}.parquet"
    pq.write_table(build_profile(rows).table, table)
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    snapshot_id = store.add_snapshot(
        run_id, source, "fp", len(rows), store.artifacts.put_file(table), {}
    )
    store.finish_run(run_id, RUN_FINISHED, 0)
    return snapshot_id


def pets_review(store: Store, tmp_path: Path, hostile: bool = False) -> int:
    """A review of six real PNGs (cats and dogs; five random, one flagged); ``hostile`` adds
    items with script in their id and label, and one whose id holds a lone surrogate."""
    folder = tmp_path / "pets"
    folder.mkdir(exist_ok=True)
    rows, items = [], []
    for k in range(6):
        label = "cat" if k % 2 else "dog"
        path = folder / f"{label}{k}.png"
        Image.new("RGB", (40, 30), (40 * k, 90, 200)).save(path)
        rows.append({"sample_id": path.name, "path": str(path), "label": label})
        items.append({"id": path.name, "label": label, "random": k != 5,
                      "flagged_by": ["data.dark"] if k == 5 else []})  # fmt: skip
    if hostile:
        rows.append({"sample_id": SCRIPT, "path": str(tmp_path / "gone.png"), "label": IMG})
        items.append({"id": SCRIPT, "label": IMG, "random": True, "flagged_by": [SCRIPT]})
        items.append({"id": SURROGATE, "label": "cat", "random": False, "flagged_by": []})
    snapshot_id = stored_profile(store, tmp_path, rows, str(folder))
    return store.add_review_sample(
        snapshot_id, seed=1, size=5, strata="label", allocation={}, items=items
    )


def embedded(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="review-data">(.*?)</script>', page, re.S
    )
    assert match, "the page embeds its data"
    return json.loads(match.group(1))


def post(client, review_id: int, **body):  # type: ignore[no-untyped-def]
    return client.post(f"/api/review/{review_id}/verdicts", json=body)


def test_pages_on_an_empty_store(client) -> None:
    page = client.get("/review")
    assert page.status_code == 200 and "No review sample is stored yet" in page.text
    missing = client.get("/review/7")
    assert missing.status_code == 404 and "no review sample 7" in missing.text
    answer = post(client, 7, sample_id="a", verdict="ok")
    assert answer.status_code == 404 and "no review sample 7" in answer.json()["error"]


def test_the_list_counts_reviewed_items_and_errors(store: Store, client, tmp_path) -> None:
    review_id = pets_review(store, tmp_path)
    assert post(client, review_id, sample_id="dog0.png", verdict="ok").status_code == 200
    answer = post(client, review_id, sample_id="cat1.png", verdict="wrong_label",
                  correct_label="dog")  # fmt: skip
    assert answer.status_code == 200, answer.text
    page = client.get("/review")
    assert page.status_code == 200
    row = re.search(rf'<tr data-review-id="{review_id}">(.*?)</tr>', page.text, re.S).group(1)
    assert 'data-reviewed="2"' in row and 'data-errors="1"' in row
    assert f'href="/review/{review_id}"' in row


def test_the_queue_page_shows_items_classes_and_the_estimate(
    store: Store, client, tmp_path
) -> None:
    review_id = pets_review(store, tmp_path)
    page = client.get(f"/review/{review_id}")
    assert page.status_code == 200
    data = embedded(page.text)
    assert [i["id"] for i in data["items"]] == [f"{'cat' if k % 2 else 'dog'}{k}.png"
                                               for k in range(6)]  # fmt: skip
    assert data["items"][5]["why"] == ["data.dark"] and data["items"][0]["why"] == ["random"]
    assert [c["value"] for c in data["classes"]] == ["cat", "dog"]
    assert data["writable"] is True and data["estimate"]["rate"] is None
    assert page.text.count('class="review-strip-item"') == 6
    assert 'data-key="1"' in page.text and 'data-label="cat"' in page.text
    media = client.get(f"/api/review/{review_id}/media/0").json()
    assert media["image"].startswith("data:image/") and not media["problem"]
    assert client.get(f"/api/review/{review_id}/media/99").status_code == 404


def test_each_verdict_is_stored_and_moves_the_estimate(store: Store, client, tmp_path) -> None:
    review_id = pets_review(store, tmp_path)
    source = store.get_review_sample(review_id).source
    first = post(client, review_id, sample_id="dog0.png", verdict="ok", note="fine")
    assert first.status_code == 200, first.text
    assert first.json()["estimate"]["rate"] == 0.0
    assert first.json()["item"]["verdict"] == "ok" and first.json()["reviewer"]
    second = post(client, review_id, sample_id="cat1.png", verdict="bad_sample", reviewer="ann")
    assert second.json()["estimate"]["rate"] > 0.0 and second.json()["reviewer"] == "ann"
    current = {v.sample_id: v for v in store.current_verdicts(source)}
    assert current["dog0.png"].verdict == "ok" and current["dog0.png"].note == "fine"
    assert current["cat1.png"].reviewer == "ann" and current["cat1.png"].label == "cat"
    page = client.get(f"/review/{review_id}")
    assert embedded(page.text)["estimate"]["rate"] == second.json()["estimate"]["rate"]
    assert 'data-verdict="bad_sample"' in page.text
    assert "error rate:" in page.text and "random draws" in page.text


def test_a_later_verdict_supersedes_and_history_stays(store: Store, client, tmp_path) -> None:
    review_id = pets_review(store, tmp_path)
    source = store.get_review_sample(review_id).source
    post(client, review_id, sample_id="cat3.png", verdict="ok")
    answer = post(client, review_id, sample_id="cat3.png", verdict="wrong_label",
                  correct_label="dog")  # fmt: skip
    assert answer.json()["item"]["correct_label"] == "dog"
    (current,) = store.current_verdicts(source)
    assert current.verdict == "wrong_label" and current.correct_label == "dog"
    assert [v.verdict for v in store.verdict_history(source, "cat3.png")] == ["ok", "wrong_label"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"sample_id": "nobody.png", "verdict": "ok"}, 409, "not in review sample"),
        ({"sample_id": "dog0.png", "verdict": "great"}, 400, "ok, wrong_label, bad_sample"),
        ({"sample_id": "dog0.png", "verdict": "wrong_label"}, 400, "needs the correct label"),
        ({"sample_id": "dog0.png", "verdict": "wrong_label", "correct_label": "eel"}, 400,
         "one of cat, dog"),
        ({"sample_id": "dog0.png", "verdict": "wrong_label", "correct_label": "dog"}, 400,
         "the label the item has"),
        ({"sample_id": "dog0.png", "verdict": "ok", "correct_label": "cat"}, 400,
         "wrong_label only"),
        ({"sample_id": 5, "verdict": "ok"}, 400, "are strings"),
        (["dog0.png"], 400, "JSON object"),
    ],
)  # fmt: skip
def test_bad_verdicts_say_why_and_store_nothing(
    store: Store, client, tmp_path, body, status, says
) -> None:
    review_id = pets_review(store, tmp_path)
    answer = client.post(f"/api/review/{review_id}/verdicts", json=body)
    assert answer.status_code == status and says in answer.json()["error"]
    assert store.current_verdicts(store.get_review_sample(review_id).source) == []


def test_a_verdict_for_another_review_names_item_and_review(store: Store, client, tmp_path) -> None:
    review_id = pets_review(store, tmp_path)
    other = store.add_review_sample(
        store.get_review_sample(review_id).snapshot_id, seed=2, size=1, strata="label",
        allocation={}, items=[{"id": "dog0.png", "label": "dog", "random": True}],
    )  # fmt: skip
    answer = post(client, other, sample_id="cat1.png", verdict="ok")
    assert answer.status_code == 409
    assert (
        "'cat1.png'" in answer.json()["error"]
        and f"review sample {other}" in answer.json()["error"]
    )
    not_json = client.post(f"/api/review/{other}/verdicts", content=b"{not json",
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert not_json.status_code == 400


def test_read_only_without_a_token_and_writable_with_it(store: Store, tmp_path) -> None:
    review_id = pets_review(store, tmp_path)
    source = store.get_review_sample(review_id).source
    with make_client(store, host="0.0.0.0", loopback=False) as client:
        refused = post(client, review_id, sample_id="dog0.png", verdict="ok")
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]
        page = client.get(f"/review/{review_id}")
        assert embedded(page.text)["writable"] is False
        assert '<p class="notice" id="review-readonly">' in page.text  # shown, not hidden
        assert "no token was set" in page.text  # and why
    with make_client(store, host="0.0.0.0", loopback=False, token="t") as client:
        wrong = client.post(f"/api/review/{review_id}/verdicts", headers={"X-DLQA-Token": "x"},
                            json={"sample_id": "dog0.png", "verdict": "ok"})  # fmt: skip
        assert wrong.status_code == 403 and "token" in wrong.json()["error"]
        assert store.current_verdicts(source) == []
        right = client.post(f"/api/review/{review_id}/verdicts", headers={"X-DLQA-Token": "t"},
                            json={"sample_id": "dog0.png", "verdict": "ok"})  # fmt: skip
        assert right.status_code == 200
    assert [v.sample_id for v in store.current_verdicts(source)] == ["dog0.png"]


def test_another_site_cannot_save_a_verdict(store: Store, client, tmp_path) -> None:
    """On loopback anyone on the machine may review, but a page of another site open in the
    same browser may not: it can post a form (not JSON) without asking, and names its origin."""
    review_id = pets_review(store, tmp_path)
    source = store.get_review_sample(review_id).source
    url = f"/api/review/{review_id}/verdicts"
    as_form = client.post(url, content='{"sample_id": "dog0.png", "verdict": "ok"}',
                          headers={"Content-Type": "text/plain"})  # fmt: skip
    assert as_form.status_code == 403 and "application/json" in as_form.json()["error"]
    elsewhere = client.post(url, json={"sample_id": "dog0.png", "verdict": "ok"},
                            headers={"Origin": "http://evil.example"})  # fmt: skip
    assert elsewhere.status_code == 403 and "evil.example" in elsewhere.json()["error"]
    assert store.current_verdicts(source) == []
    same_site = client.post(url, json={"sample_id": "dog0.png", "verdict": "ok"},
                            headers={"Origin": "http://testserver"})  # fmt: skip
    assert same_site.status_code == 200


def test_hostile_ids_labels_and_texts_are_escaped(store: Store, client, tmp_path) -> None:
    review_id = pets_review(store, tmp_path, hostile=True)
    page = client.get(f"/review/{review_id}")
    assert page.status_code == 200
    assert SCRIPT not in page.text and IMG not in page.text
    assert "<img src=x" not in page.text and "caf\\xe9.png" in page.text
    block = re.search(r'id="review-data">(.*?)</script>', page.text, re.S).group(1)
    assert "<" not in block and ">" not in block and "&" not in block
    data = embedded(page.text)
    assert data["items"][6]["id"] == SCRIPT and data["items"][6]["label"] == IMG
    assert data["items"][7]["name"] == "caf\\xe9.png"
    listing = client.get("/review")
    assert listing.status_code == 200 and SCRIPT not in listing.text
    saved = post(client, review_id, sample_id=SCRIPT, verdict="wrong_label", correct_label="cat",
                 note=SCRIPT)  # fmt: skip
    assert saved.status_code == 200 and saved.json()["item"]["note"] == SCRIPT
    # As a browser's JSON.stringify sends a lone surrogate: escaped.
    body = json.dumps({"sample_id": SURROGATE, "verdict": "ok"})
    refused = client.post(f"/api/review/{review_id}/verdicts", content=body,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert refused.status_code == 400 and "not valid UTF-8" in refused.json()["error"]
    gone = client.get(f"/api/review/{review_id}/media/6").json()
    assert "not available" in gone["problem"]
    undecodable = client.get(f"/api/review/{review_id}/media/7")
    assert undecodable.status_code == 200 and "not available" in undecodable.json()["problem"]
    again = client.get(f"/review/{review_id}")
    assert SCRIPT not in again.text and "&lt;script&gt;" in again.text
