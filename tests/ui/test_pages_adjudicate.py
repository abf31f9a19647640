"""The adjudication queue of the dashboard (/adjudicate, POST /api/adjudicate), on SQLite and
on PostgreSQL, over real `dlqa labels agreement` runs."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from dlqa.runner.labels import run_label_agreement
from dlqa.store import Store
from tests.ui.conftest import make_client

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SURROGATE = "caf\udce9.png"


def agreement_run(
    store: Store, tmp_path: Path, votes: dict[str, dict[str, str]], name: str = ""
) -> tuple[int, str]:
    """A real agreement run over ``votes`` (item -> annotator -> label) written to ``name``
    (default: a new file); (run id, source)."""
    path = tmp_path / (name or f"votes-{len(store.list_runs())}.csv")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "annotator", "label"])
        for item, labels in votes.items():
            writer.writerows([item, annotator, label] for annotator, label in labels.items())
    session = run_label_agreement(path, store, report_dir=tmp_path / "reports", formats=())
    return session.run_id, str(path)


VOTES = {
    "a.png": {"ann": "cat", "bob": "dog", "cy": "cat"},
    "b.png": {"ann": "dog", "bob": "dog", "cy": "dog"},
    "c.png": {"ann": "cat", "bob": "eel"},
}


def embedded(page: str) -> dict:
    match = re.search(r'id="adjudicate-data">(.*?)</script>', page, re.S)
    assert match, "the page embeds its data"
    return json.loads(match.group(1))


def test_the_page_on_an_empty_store(client) -> None:
    page = client.get("/adjudicate")
    assert page.status_code == 200 and "Nothing to adjudicate" in page.text
    assert client.get("/adjudicate?decided=1").status_code == 200


def test_the_queue_lists_disputed_items_with_every_label(store: Store, client, tmp_path) -> None:
    run_id, source = agreement_run(store, tmp_path, VOTES)
    page = client.get("/adjudicate")
    assert page.status_code == 200
    items = embedded(page.text)["items"]
    assert sorted(i["item_id"] for i in items) == ["a.png", "c.png"]  # b.png: all agreed
    first = next(i for i in items if i["item_id"] == "a.png")
    assert first["labels"] == ["cat", "dog"] and first["run_id"] == run_id
    assert first["source"] == source
    assert "<kbd>1</kbd> cat (2)" in page.text and "<kbd>2</kbd> dog (1)" in page.text


def test_a_decision_is_stored_and_leaves_the_queue(store: Store, client, tmp_path) -> None:
    run_id, source = agreement_run(store, tmp_path, VOTES)
    body = {"run_id": run_id, "source": source, "item_id": "a.png", "label": "cat", "note": "n"}
    answer = client.post("/api/adjudicate", json={**body, "adjudicator": "ann"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] == "cat" and answer.json()["adjudicator"] == "ann"
    (record,) = store.current_adjudications(source)
    assert (record.item_id, record.label, record.run_id, record.note) == (
        "a.png",
        "cat",
        run_id,
        "n",
    )
    queue = embedded(client.get("/adjudicate").text)["items"]
    assert [i["item_id"] for i in queue] == ["c.png"]
    decided = client.get("/adjudicate?decided=1")
    assert [i["item_id"] for i in embedded(decided.text)["items"]] == ["a.png"]
    assert 'class="adjudicate-final">cat<' in decided.text
    # A later decision supersedes; both are kept.
    client.post("/api/adjudicate", json={**body, "label": "dog"})
    assert [r.label for r in store.current_adjudications(source)] == ["dog"]
    assert [r.label for r in store.adjudication_history(source, "a.png")] == ["cat", "dog"]


def test_the_latest_run_of_each_source_makes_the_queue(store: Store, client, tmp_path) -> None:
    agreement_run(store, tmp_path, VOTES, "votes.csv")
    other, _ = agreement_run(store, tmp_path, {"z.png": {"ann": "cat", "bob": "dog"}})
    newer, _ = agreement_run(store, tmp_path, {"a.png": {"ann": "cat", "bob": "dog"}}, "votes.csv")
    items = embedded(client.get("/adjudicate").text)["items"]
    assert sorted((i["item_id"], i["run_id"]) for i in items) == [
        ("a.png", newer),
        ("z.png", other),
    ]


def test_bad_decisions_say_why_and_store_nothing(store: Store, client, tmp_path) -> None:
    run_id, source = agreement_run(store, tmp_path, VOTES)
    other = store.start_run("data.profile", "x", {})
    good = {"run_id": run_id, "source": source, "item_id": "a.png", "label": "cat"}
    cases = [
        ({**good, "item_id": "b.png"}, 409, "'b.png' is not in the adjudication queue"),
        ({**good, "run_id": 999}, 404, "no run 999"),
        ({**good, "run_id": other}, 404, "measured no annotator agreement"),
        ({**good, "source": "/elsewhere.csv"}, 409, "not '/elsewhere.csv'"),
        ({**good, "label": "  "}, 400, "non-empty"),
        ({**good, "run_id": "1"}, 400, "run_id"),
        ([good], 400, "JSON object"),
    ]
    for body, status, says in cases:
        answer = client.post("/api/adjudicate", json=body)
        assert answer.status_code == status and says in answer.json()["error"], (body, answer.text)
    assert store.current_adjudications(source) == []


def test_read_only_without_a_token(store: Store, tmp_path) -> None:
    run_id, source = agreement_run(store, tmp_path, VOTES)
    body = {"run_id": run_id, "source": source, "item_id": "a.png", "label": "cat"}
    with make_client(store, host="0.0.0.0", loopback=False) as client:
        refused = client.post("/api/adjudicate", json=body)
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]
        page = client.get("/adjudicate")
        assert '<p class="notice" id="adjudicate-readonly">' in page.text
    with make_client(store, host="0.0.0.0", loopback=False, token="t") as client:
        wrong = client.post("/api/adjudicate", json=body, headers={"X-DLQA-Token": "nope"})
        assert wrong.status_code == 403 and store.current_adjudications(source) == []
        right = client.post("/api/adjudicate", json=body, headers={"X-DLQA-Token": "t"})
        assert right.status_code == 200
    assert len(store.current_adjudications(source)) == 1


def test_hostile_items_and_labels_are_escaped(store: Store, client, tmp_path) -> None:
    run_id, source = agreement_run(
        store, tmp_path, {SCRIPT: {"ann": IMG, "bob": "cat"}, "x": {SCRIPT: "a", "bob": "b"}}
    )
    page = client.get("/adjudicate")
    assert page.status_code == 200
    assert SCRIPT not in page.text and IMG not in page.text and "<img src=x" not in page.text
    block = re.search(r'id="adjudicate-data">(.*?)</script>', page.text, re.S).group(1)
    assert "<" not in block and ">" not in block and "&" not in block
    item = next(i for i in embedded(page.text)["items"] if i["item_id"] == SCRIPT)
    assert sorted(item["labels"]) == sorted([IMG, "cat"])
    body = {"run_id": run_id, "source": source, "item_id": SCRIPT, "label": IMG, "note": SCRIPT}
    assert client.post("/api/adjudicate", json=body).status_code == 200
    decided = client.get("/adjudicate?decided=1")
    assert decided.status_code == 200 and IMG not in decided.text and SCRIPT not in decided.text
    assert "&lt;script&gt;" in decided.text
    # A lone surrogate (an undecodable file name) is refused, not half-stored.
    raw = json.dumps({**body, "item_id": SURROGATE})
    refused = client.post("/api/adjudicate", content=raw,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert refused.status_code in (400, 409) and "nothing was saved" in refused.json()["error"]
