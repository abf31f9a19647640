"""The run lifecycle: every result stored as it comes, the right status and exit code, and
reports of what ran, whatever stops the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlqa.config import default_config
from dlqa.core.errors import RunInterrupted, UsageError
from dlqa.core.registry import register_check, unregister_check
from dlqa.core.results import CheckResult, Interval, Status
from dlqa.core.stages import _STAGES, StageSpec, register_stage
from dlqa.runner import RunSession, load_report
from dlqa.store import open_store

CALLS: list[str] = []


@pytest.fixture
def toy_stage():
    """A stage "toy" whose context is the dict its command hands it, with three checks."""

    def build(run):
        if run.inputs.get("refuse"):
            raise UsageError("toy: the input is unusable", hint="give a better one")
        return run.inputs

    register_stage(StageSpec(name="toy", title="Toy", build_context=build))

    def make(check_id, behaviour):
        def check(context, params):
            CALLS.append(check_id)
            return behaviour(context, check_id)

        register_check(check_id, title=check_id, description="d", stage="toy")(check)

    def passes(ctx, cid):
        return CheckResult(cid, Status.PASS, "fine", value=1.0, n=10)

    def interrupts(ctx, cid):
        if ctx.get("interrupt"):
            raise KeyboardInterrupt
        if ctx.get("crash_store"):
            raise MemoryError("not a check bug: the process is out of memory")
        return CheckResult(cid, Status.INCONCLUSIVE, "cannot decide", value=0.9, threshold=0.9,
                           n=40, interval=Interval(0.8, 0.97))  # fmt: skip

    make("toy.a_first", passes)
    make("toy.b_second", interrupts)
    make("toy.c_third", passes)
    CALLS.clear()
    yield
    for check_id in ("toy.a_first", "toy.b_second", "toy.c_third"):
        unregister_check(check_id)
    _STAGES.pop("toy", None)


def session(tmp_path: Path, **kw) -> RunSession:
    config = default_config(tmp_path)
    return RunSession(config, kind="toy", title="Toy run", formats=("json",), **kw)


def test_a_finished_run_stores_everything_and_inconclusive_fails_by_default(tmp_path, toy_stage):
    run = session(tmp_path)
    with run:
        results = run.run_stage("toy", {})
    assert [r.check_id for r in results] == ["toy.a_first", "toy.b_second", "toy.c_third"]
    assert run.exit_code == 1  # the inconclusive gate has not passed
    document = json.loads(run.written["json"].read_text())
    assert document["status"] == "finished"
    inconclusive = document["results"][1]
    assert inconclusive["status"] == "inconclusive" and inconclusive["n"] == 40
    assert inconclusive["interval"] == {"low": 0.8, "high": 0.97, "level": 0.95}
    with open_store(project_dir=tmp_path) as store:
        record = store.get_run(run.run_id)
        assert (record.status, record.exit_code) == ("finished", 1)
        assert record.provenance["versions"]["dlqa"] and record.provenance["command"]


def test_allow_inconclusive_passes_the_run_but_keeps_the_status(tmp_path, toy_stage):
    run = session(tmp_path, allow_inconclusive=True)
    with run:
        run.run_stage("toy", {})
    assert run.exit_code == 0
    assert run.report.results[1].status is Status.INCONCLUSIVE
    assert run.report.allow_inconclusive


def test_ctrl_c_keeps_what_ran_and_marks_the_run_interrupted(tmp_path, toy_stage):
    run = session(tmp_path)
    with pytest.raises(RunInterrupted) as caught, run:
        run.run_stage("toy", {"interrupt": True})
    assert run.exit_code == 130
    assert CALLS == ["toy.a_first", "toy.b_second"]  # the third never started
    with open_store(project_dir=tmp_path) as store:
        record = store.get_run(run.run_id)
        assert (record.status, record.exit_code) == ("interrupted", 130)
        assert [r.check_id for r in store.results_for_run(run.run_id)] == ["toy.a_first"]
    document = json.loads(run.written["json"].read_text())
    assert document["status"] == "interrupted" and len(document["results"]) == 1
    assert "interrupted: run 1 is recorded as interrupted; 1 results stored" in str(caught.value)
    assert isinstance(caught.value.__cause__, KeyboardInterrupt)


def test_a_usage_error_mid_run_is_exit_2_with_a_report_of_what_ran(tmp_path, toy_stage):
    run = session(tmp_path)
    with pytest.raises(UsageError), run:
        run.run_stage("toy", {})
        run.run_stage("toy", {"refuse": True})  # a second stage that cannot start
    assert run.exit_code == 2
    with open_store(project_dir=tmp_path) as store:
        record = store.get_run(run.run_id)
        assert (record.status, record.exit_code) == ("failed", 2)
        assert len(store.results_for_run(run.run_id)) == 3
    assert json.loads(run.written["json"].read_text())["status"] == "failed"


def test_an_internal_error_is_exit_3_and_the_results_before_it_are_kept(tmp_path, toy_stage):
    run = session(tmp_path)
    with pytest.raises(MemoryError), run:
        run.run_stage("toy", {})
        run.add_result(CheckResult("toy.a_first", Status.PASS, "again"))
        raise MemoryError("a failure outside any check")
    assert run.exit_code == 3
    with open_store(project_dir=tmp_path) as store:
        assert store.get_run(run.run_id).status == "failed"
        assert len(store.results_for_run(run.run_id)) == 4


def test_a_stored_run_re_renders_from_the_store_alone(tmp_path, toy_stage):
    run = session(tmp_path)
    with run:
        run.run_stage("toy", {})
    with open_store(project_dir=tmp_path) as store:
        again = load_report(store, run.run_id)
    assert again.results == run.report.results
    assert (again.title, again.exit_code, again.status) == ("Toy run", 1, "finished")


def test_an_unknown_stage_is_a_config_error(tmp_path):
    from dlqa.core.errors import ConfigError

    run = session(tmp_path)
    with pytest.raises(ConfigError, match="no stage 'nope'"), run:
        run.run_stage("nope")
    assert run.exit_code == 2


def test_ctrl_c_while_the_session_starts_still_closes_the_run(tmp_path, monkeypatch):
    from dlqa.store.store import Store

    def interrupted(self, run_id, parts):
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "set_report_parts", interrupted)
    run = session(tmp_path)
    with pytest.raises(RunInterrupted), run:
        pass
    monkeypatch.undo()
    with open_store(project_dir=tmp_path) as store:
        record = store.get_run(run.run_id)
        assert (record.status, record.exit_code) == ("interrupted", 130)
