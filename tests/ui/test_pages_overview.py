"""The overview page: the latest ``dlqa check`` with its verdict, results and gates, the runs
by kind and the latest runs; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from dlqa.core.results import Interval, Status
from dlqa.store import Store
from tests.ui.test_pages_runs import (
    BAD_SHOWN,
    add_hostile_run,
    add_run,
    assert_escaped,
    result,
    run_ids_shown,
)

GATES = {"data.dark": {"level": "fail"}, "eval.accuracy": {"min": 0.85}, "deploy.parity": {}}


def test_empty_store_says_how_to_fill_it(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "dlqa check" in page.text and "dlqa demo" in page.text


def test_latest_check_with_verdict_results_and_gates(client: Any, store: Store) -> None:
    add_run(store, "check", [result("data.dark", Status.PASS)], config={"gates": GATES})
    results = [
        result("data.dark", Status.FAIL, value=0.02, threshold=0.0),
        result("eval.accuracy", Status.PASS, value=0.91, threshold=0.85, n=600,
               interval=Interval(0.89, 0.93)),
    ]  # fmt: skip
    latest = add_run(store, "check", results, config={"gates": GATES})
    add_run(store, "model.eval")  # newer, but not a check
    page = client.get("/").text
    assert f'<a href="/runs/{latest}">run {latest}</a>' in page
    assert "1 gate failed: data.dark" in page
    assert "0.89, 0.93" in page and "600" in page
    gates = page[page.index("<h3>Gates</h3>") : page.index("<h3>Results</h3>")]
    rows = dict(re.findall(r"<code>([a-z.]+)</code></td><td>[^<]*</td><td>(.*?)</td>", gates))
    assert "status-fail" in rows["data.dark"] and "status-pass" in rows["eval.accuracy"]
    assert "did not run" in rows["deploy.parity"]
    assert "level = fail" in gates and "min = 0.85" in gates


def test_passing_check_and_counts_by_kind(client: Any, store: Store) -> None:
    add_run(store, "check", [result("data.dark")], config={"gates": {}})
    for _ in range(3):
        add_run(store, "exp.run")
    page = client.get("/").text
    assert "all gates passed" in page
    assert re.search(r'href="/runs\?kind=exp.run">exp.run</a></td><td class="num">3<', page)
    assert "set no gates" in page


def test_no_check_yet_and_the_ten_latest_runs(client: Any, store: Store) -> None:
    ids = [add_run(store, "data.profile") for _ in range(12)]
    page = client.get("/").text
    assert "No <code>dlqa check</code> run is stored yet" in page
    latest = page[page.index("<h2>Latest runs</h2>") :]
    assert run_ids_shown(latest) == ids[::-1][:10]


def test_markup_renders_escaped(client: Any, store: Store) -> None:
    add_hostile_run(store)
    page = client.get("/")
    assert page.status_code == 200
    assert_escaped(page.text)
    assert BAD_SHOWN in page.text
