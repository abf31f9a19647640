"""The runs pages: the paged, filtered list, one run (header, results, sandboxed report), the
run's report and its JSON; on SQLite and PostgreSQL (fixtures ``store`` and ``client``)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.store import Store

SCRIPT = "<script>alert(1)</script>"
ESCAPED = html.escape(SCRIPT, quote=False)
BAD_NAME = "caf\udce9.png"  # os.listdir's name for the bytes b"caf\xe9.png"
BAD_SHOWN = "caf\\xe9.png"


def add_run(
    store: Store,
    kind: str = "check",
    results: list[CheckResult] | None = None,
    *,
    title: str | None = None,
    command: str | None = None,
    report: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    status: str = "finished",
    **provenance: Any,
) -> int:
    """A run stored as a dlqa command stores one: started, results, report parts, finished."""
    run_id = store.start_run(kind, command or f"dlqa {kind}", config or {}, provenance)
    if results:
        store.add_results(run_id, results)
    store.set_report_parts(run_id, {"title": title or f"dlqa {kind}: demo", **(report or {})})
    if status != "running":
        store.finish_run(run_id, status, int(any(r.status is Status.FAIL for r in results or [])))
    return run_id


def result(check_id: str, status: Status = Status.PASS, **fields: Any) -> CheckResult:
    return CheckResult(check_id, status, fields.pop("summary", f"{check_id} {status}"), **fields)


def add_hostile_run(store: Store, kind: str = "check", **report: Any) -> int:
    """A run whose every user-given text is markup, with a file name that is not UTF-8 where
    the store can hold one (its JSON: evidence, details, report parts, provenance; its text
    columns take only what the data layer made displayable)."""
    evidence = Evidence("samples", [{"id": BAD_NAME, "label": SCRIPT}, {"id": SCRIPT}], 2, SCRIPT)
    hostile = [
        result("data.dark", Status.FAIL, summary=SCRIPT, subject=SCRIPT,
               evidence=[evidence], value=0.5, threshold=0.1),
        result("eval.accuracy", Status.PASS, summary=SCRIPT, subject=SCRIPT, value=0.9,
               n=100, interval=Interval(0.8, 0.95)),
        result("deploy.parity", Status.FAIL, summary=SCRIPT, subject=SCRIPT,
               details={"max_abs_diff": 0.1, "tolerance": {"atol": 0.01},
                        "inputs_beyond_tolerance": 3, "metric": {"name": SCRIPT, "delta": -0.1}}),
        result("exp.compare", Status.PASS, subject=SCRIPT,
               details={"verdict": SCRIPT, "reason": BAD_NAME}),
    ]  # fmt: skip
    return add_run(
        store, kind, hostile, title=f"{SCRIPT} {BAD_NAME}", command=f"dlqa check {SCRIPT}",
        config={"gates": {"data.dark": {"level": "fail", "note": SCRIPT}}},
        report=report, user=SCRIPT, host=BAD_NAME, git={"commit": SCRIPT, "dirty": True},
    )  # fmt: skip


def assert_escaped(text: str) -> None:
    assert "<script>alert(1)" not in text
    assert ESCAPED in text


def run_ids_shown(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td class="num"><a href="/runs/(\d+)">', page)]


def test_empty_store_says_how_to_fill_it(client: Any) -> None:
    page = client.get("/runs")
    assert page.status_code == 200
    assert "dlqa check" in page.text and "dlqa demo" in page.text


def test_runs_are_listed_with_counts_provenance_and_commit(client: Any, store: Store) -> None:
    git = {"commit": "0123456789abcdef", "dirty": True}
    run_id = add_run(store, "data.profile", [result("data.dark", Status.FAIL),
                     result("data.blurry"), result("data.bright")],
                     user="ana", host="gpu-7", git=git)  # fmt: skip
    page = client.get("/runs").text
    assert run_ids_shown(page) == [run_id]
    assert "ana@gpu-7" in page
    assert "0123456789" in page and "0123456789a" not in page  # the short commit
    assert "dirty" in page
    assert "1 fail" in page and "2 pass" in page
    assert "dlqa data.profile: demo" in page


@pytest.mark.slow
def test_paging_shows_the_next_runs_and_honours_per_page(client: Any, store: Store) -> None:
    ids = [add_run(store, "check" if i % 3 else "model.eval") for i in range(120)]
    newest_first = ids[::-1]
    first = client.get("/runs").text
    assert run_ids_shown(first) == newest_first[:50]  # the default page size
    assert "page 1 of 3" in first and 'href="/runs?page=2"' in first
    second = client.get("/runs?page=2").text
    assert run_ids_shown(second) == newest_first[50:100]
    third = client.get("/runs?page=3&per_page=50").text
    assert run_ids_shown(third) == newest_first[100:]
    small = client.get("/runs?per_page=7&page=3").text
    assert run_ids_shown(small) == newest_first[14:21]
    assert "page=4" in small and "per_page=7" in small


def test_filters_by_kind_prefix_and_status(client: Any, store: Store) -> None:
    exp = add_run(store, "exp.run")
    compare = add_run(store, "exp.compare")
    check = add_run(store, "check")
    running = add_run(store, "check", status="running")
    assert run_ids_shown(client.get("/runs?kind=exp.").text) == [compare, exp]
    assert run_ids_shown(client.get("/runs?kind=check").text) == [running, check]
    assert run_ids_shown(client.get("/runs?kind=check&status=running").text) == [running]
    assert run_ids_shown(client.get("/runs?kind=exp.run,check&status=finished").text) == [
        check,
        exp,
    ]
    nothing = client.get("/runs?kind=release")
    assert nothing.status_code == 200 and "No run matches" in nothing.text


def test_run_page_shows_header_results_and_a_sandboxed_report(client: Any, store: Store) -> None:
    results = [result(f"data.check{i}", Status.PASS) for i in range(130)]
    git = {"commit": "feedbeef00112233", "dirty": False}
    run_id = add_run(store, "data.profile", results, command="dlqa data profile ./x",
                     user="ana", host="gpu-7", git=git)  # fmt: skip
    page = client.get(f"/runs/{run_id}").text
    assert "dlqa data profile ./x" in page and "ana@gpu-7" in page and "feedbeef00" in page
    assert f'<iframe class="run-report" sandbox="allow-scripts" src="/runs/{run_id}/report"' in page
    # Scripts in the frame run in an origin of their own: never the dashboard's.
    assert "allow-same-origin" not in page
    assert "data.check99" in page and "data.check100" not in page  # 100 results a page
    assert "data.check100" in client.get(f"/runs/{run_id}?page=2").text
    report = client.get(f"/runs/{run_id}/report")
    assert report.status_code == 200 and "data.check129" in report.text
    policy = report.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    # Only the report's own script, by its hash; no inline handlers, no 'unsafe-inline' script.
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'sha256-" in script_src and "unsafe-inline" not in script_src
    assert "onclick=" not in report.text


def test_api_gives_the_json_report(client: Any, store: Store) -> None:
    run_id = add_run(store, "check", [result("data.dark", Status.FAIL, value=0.25)])
    document = client.get(f"/api/runs/{run_id}").json()
    assert document["schema"] == "dlqa.report" and document["kind"] == "check"
    assert document["results"][0]["value"] == 0.25
    assert document["meta"]["run_id"] == run_id


def test_missing_run_is_a_404_with_the_store_message(client: Any) -> None:
    for path in ("/runs/424242", "/runs/424242/report"):
        page = client.get(path)
        assert page.status_code == 404 and "no run 424242" in page.text
    api = client.get("/api/runs/424242")
    assert api.status_code == 404 and "no run 424242" in api.json()["error"]


def test_markup_and_undecodable_names_render_escaped(client: Any, store: Store) -> None:
    run_id = add_hostile_run(store)
    for path in ("/runs", f"/runs/{run_id}", f"/runs/{run_id}/report"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert_escaped(page.text)
        assert BAD_SHOWN in page.text, path
    document = client.get(f"/api/runs/{run_id}").json()
    assert document["title"] == f"{SCRIPT} {BAD_NAME}"  # lossless for scripts


def test_report_of_a_running_run_is_never_kept(client: Any, store: Store) -> None:
    run_id = add_run(store, "check", [result("data.first")], status="running")
    assert "data.second" not in client.get(f"/runs/{run_id}/report").text
    store.add_results(run_id, [result("data.second")])
    assert "data.second" in client.get(f"/runs/{run_id}/report").text
    store.finish_run(run_id, "finished", 0)
    assert "data.second" in client.get(f"/runs/{run_id}/report").text  # now kept
    assert client.get(f"/runs/{run_id}/report").text == client.get(f"/runs/{run_id}/report").text
