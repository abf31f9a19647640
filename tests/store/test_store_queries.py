"""The dashboard's paged reads (QueryMethods), on SQLite and PostgreSQL (fixture ``store``)."""

from __future__ import annotations

from dlqa.core.results import CheckResult, Interval, Status
from dlqa.store import Store


def _run(store: Store, kind: str, statuses: tuple[Status, ...] = (), **provenance: object) -> int:
    run_id = store.start_run(kind, f"dlqa {kind}", {"gates": {}}, provenance)
    results = [
        CheckResult(
            f"{kind}.check{i}", status, f"result {i}", value=0.5, n=10, interval=Interval(0.4, 0.6)
        )
        for i, status in enumerate(statuses)
    ]
    if results:
        store.add_results(run_id, results)
    store.set_report_parts(run_id, {"title": f"title of {run_id}"})
    store.finish_run(run_id, "finished", 0)
    return run_id


def test_runs_page_is_newest_first_and_paged(store: Store) -> None:
    ids = [_run(store, "data.profile") for _ in range(7)]
    first = store.runs_page(offset=0, limit=3)
    second = store.runs_page(offset=3, limit=3)
    assert [r.id for r in first] == ids[::-1][:3]
    assert [r.id for r in second] == ids[::-1][3:6]
    assert store.count_runs() == 7


def test_kinds_filter_takes_exact_kinds_and_prefixes(store: Store) -> None:
    _run(store, "exp.run")
    _run(store, "exp.compare")
    _run(store, "check")
    _run(store, "expert")  # not under the "exp." prefix
    assert {r.kind for r in store.runs_page(kinds=("exp.",))} == {"exp.run", "exp.compare"}
    assert store.count_runs(("exp.", "check")) == 3
    assert store.count_runs(("exp_",)) == 0  # "_" is no wildcard
    assert store.latest_run(("check",)).kind == "check"  # type: ignore[union-attr]
    assert store.latest_run(("release",)) is None
    assert store.count_runs_by_kind() == {"check": 1, "exp.compare": 1, "exp.run": 1, "expert": 1}


def test_status_filter(store: Store) -> None:
    done = _run(store, "check")
    running = store.start_run("check", "dlqa check", {})
    assert [r.id for r in store.runs_page(status="running")] == [running]
    assert store.count_runs(status="finished") == 1
    assert store.runs_page(status="finished")[0].id == done


def test_summaries_read_title_and_provenance_fields(store: Store) -> None:
    git = {"commit": "abcdef1234567890", "dirty": True}
    run_id = _run(store, "check", user="ana", host="gpu-3", git=git)
    bare = _run(store, "check")
    by_id = {s.id: s for s in store.run_summaries()}
    summary = by_id[run_id]
    assert (summary.title, summary.user, summary.host) == (f"title of {run_id}", "ana", "gpu-3")
    assert (summary.commit, summary.dirty) == ("abcdef1234567890", True)
    assert (by_id[bare].user, by_id[bare].commit, by_id[bare].dirty) == (None, None, None)


def test_result_counts_are_grouped_per_run(store: Store) -> None:
    a = _run(store, "check", (Status.PASS, Status.PASS, Status.FAIL))
    b = _run(store, "check", (Status.WARN,))
    empty = _run(store, "check")
    counts = store.result_counts([a, b, empty])
    assert counts == {a: {"pass": 2, "fail": 1}, b: {"warn": 1}, empty: {}}
    assert store.result_counts([]) == {}
    assert store.check_status_counts(a)["check.check2"] == {"fail": 1}


def test_results_page_and_filters(store: Store) -> None:
    run_id = _run(store, "check", (Status.PASS,) * 5 + (Status.FAIL,))
    page = store.results_page(run_id, offset=2, limit=2)
    assert [r.summary for r in page] == ["result 2", "result 3"]
    assert page[0].interval == Interval(0.4, 0.6)
    failed = store.results_with_status(run_id, ["fail"])
    assert [r.check_id for r in failed] == ["check.check5"]


def test_results_of_runs_by_check_prefix(store: Store) -> None:
    a = _run(store, "deploy.check", (Status.PASS, Status.FAIL))
    b = _run(store, "model.eval", (Status.PASS,))
    found = store.results_of_runs([a, b], ["deploy.check.check1"])
    assert [r.check_id for r in found[a]] == ["deploy.check.check1"]
    assert found[b] == []
    assert store.results_of_runs([a], []) == {a: []}


def test_summaries_keep_undecodable_names_in_json_fields(store: Store) -> None:
    # A file name that is not UTF-8 (os.listdir's surrogate escapes) survives in JSON parts;
    # read back as SQL text it would be bytes no driver decodes.
    name = "caf\udce9.png <b>"
    run_id = store.start_run("check", "dlqa check", {}, {"host": name, "git": {"commit": name}})
    store.set_report_parts(run_id, {"title": name})
    (summary,) = store.run_summaries()
    assert (summary.title, summary.host, summary.commit) == (name, name, name)


def test_run_reports_read_report_parts_of_the_given_runs(store: Store) -> None:
    a = _run(store, "release")
    b = _run(store, "release")
    assert store.run_reports([a]) == {a: {"title": f"title of {a}"}}
    assert set(store.run_reports([a, b])) == {a, b}
    assert store.run_reports([]) == {}


def test_no_kinds_match_nothing(store: Store) -> None:
    _run(store, "check")
    assert store.count_runs(()) == 0 and store.runs_page(kinds=()) == []
