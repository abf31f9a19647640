"""`dlqa.monitor` stores what it finds as a run: `dlqa report RUN_ID` reads it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import dlqa  # noqa: E402
from dlqa.core.errors import UsageError  # noqa: E402
from dlqa.store import open_store  # noqa: E402
from tests.e2e.conftest import run_cli  # noqa: E402
from tests.train.buggy_models import LogOfShifted  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
NAN_STEP = 13


def model_with_log_layer() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), LogOfShifted(), nn.Linear(8, 3))


def train(m, model, optimizer, steps=20, nan_at=NAN_STEP, fail_at=None, interrupt_at=None):
    """A tiny loop; the log layer's argument turns negative at ``nan_at``."""
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(32, 6, generator=generator)
    targets = torch.randint(0, 3, (32,), generator=generator)
    for step in range(steps):
        model[2].shift = -5.0 if step == nan_at else 100.0
        if step == fail_at:
            raise RuntimeError("the data loader broke")
        if step == interrupt_at:
            raise KeyboardInterrupt
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = nn.functional.cross_entropy(outputs, targets)
        loss.backward()
        m.step(loss, outputs=outputs, targets=targets)
        optimizer.step()


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


def test_nan_finding_is_stored_as_a_run_that_dlqa_report_reads(tmp_path):
    model = model_with_log_layer()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    url = sqlite_url(tmp_path)
    with dlqa.monitor(model, optimizer, db=url, title="tiny loop") as m:
        assert m.run_id is not None
        with open_store(url, project_dir=tmp_path) as store:  # started with the monitoring
            assert store.get_run(m.run_id).status == "running"
        train(m, model, optimizer)

    out = tmp_path / "report.json"
    code, stdout, stderr = run_cli("report", str(m.run_id), "--db", url, "--json", str(out))
    assert code == 0, stdout + stderr
    report = json.loads(out.read_text())
    assert report["kind"] == "train.monitor" and report["status"] == "finished"
    assert report["exit_code"] == 1  # monitor.nonfinite fails its gate
    assert report["title"] == "tiny loop"
    assert report["meta"]["steps"] == 20 and report["meta"]["model"] == "Sequential"
    results = {r["check_id"]: r for r in report["results"]}
    nonfinite = results["monitor.nonfinite"]
    assert nonfinite["status"] == "fail"
    assert (
        f"step {NAN_STEP}" in nonfinite["summary"] and "`2` (LogOfShifted)" in nonfinite["summary"]
    )
    assert nonfinite["details"]["first_step"] == NAN_STEP
    # Every monitor check is there, as in m.results().
    assert list(results) == [r.check_id for r in m.results()]
    with open_store(url, project_dir=tmp_path) as store:
        run = store.get_run(m.run_id)
        record = run.report["monitor"]
    assert run.exit_code == 1
    assert {"step": NAN_STEP, "kind": "nonfinite_loss", "value": "nan"} in record["findings"]
    assert record["losses"][NAN_STEP] is None and len(record["losses"]) == 20


def test_the_default_store_is_the_projects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    model = model_with_log_layer()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with dlqa.monitor(model, optimizer) as m:
        train(m, model, optimizer, steps=3, nan_at=None)
    assert (tmp_path / ".dlqa" / "dlqa.db").is_file()  # SQLite in the project's .dlqa
    code, stdout, _ = run_cli("report", str(m.run_id))
    assert code == 0 and "monitor.nonfinite" in stdout

    # ./dlqa.toml's [store] and [gates] apply: the gate makes a NaN a warning.
    (tmp_path / "dlqa.toml").write_text(
        '[store]\nurl = "sqlite:///configured.db"\n'
        '[gates]\n"monitor.nonfinite" = { level = "warn" }\n'
    )
    with dlqa.monitor(model, optimizer) as m:
        train(m, model, optimizer, steps=3, nan_at=1)
    with open_store("sqlite:///configured.db", project_dir=tmp_path) as store:
        assert store.get_run(m.run_id).kind == "train.monitor"
        results = {r.check_id: r for r in store.results_for_run(m.run_id)}
    assert results["monitor.nonfinite"].status.value == "warn"


def test_store_false_stores_nothing_and_results_still_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = model_with_log_layer()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with dlqa.monitor(model, optimizer, store=False) as m:
        train(m, model, optimizer)
    assert m.run_id is None and not (tmp_path / ".dlqa").exists()
    assert {r.check_id: r.status.value for r in m.results()}["monitor.nonfinite"] == "fail"
    with pytest.raises(UsageError, match="store=False"):
        dlqa.monitor(model, optimizer, store=False, db=sqlite_url(tmp_path))
    with pytest.raises(UsageError, match="store must be"):
        dlqa.monitor(model, optimizer, store="sqlite:///x.db")


def test_an_exception_in_the_loop_keeps_the_findings_in_a_failed_run(tmp_path):
    model = model_with_log_layer()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    url = sqlite_url(tmp_path)
    m = dlqa.monitor(model, optimizer, db=url)
    with pytest.raises(RuntimeError, match="data loader broke") as raised, m:
        train(m, model, optimizer, fail_at=NAN_STEP + 2)
    assert any(f"run {m.run_id} stopped" in note for note in raised.value.__notes__)
    with open_store(url, project_dir=tmp_path) as store:
        run = store.get_run(m.run_id)
        results = {r.check_id: r for r in store.results_for_run(m.run_id)}
    assert run.status == "failed" and run.exit_code == 3
    assert results["monitor.nonfinite"].details["first_step"] == NAN_STEP
    for module in model.modules():  # the hooks are gone all the same
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_ctrl_c_keeps_a_keyboard_interrupt_and_an_interrupted_run(tmp_path):
    model = model_with_log_layer()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    url = sqlite_url(tmp_path)
    m = dlqa.monitor(model, optimizer, db=url)
    with pytest.raises(KeyboardInterrupt) as raised, m:
        train(m, model, optimizer, interrupt_at=5, nan_at=2)
    assert any("recorded as interrupted" in note for note in raised.value.__notes__)
    with open_store(url, project_dir=tmp_path) as store:
        run = store.get_run(m.run_id)
        results = {r.check_id: r for r in store.results_for_run(m.run_id)}
    assert run.status == "interrupted" and run.exit_code == 130
    assert results["monitor.nonfinite"].details["first_step"] == 2


def test_the_monitor_classes_of_dlqa_train_store_nothing():
    from dlqa.train.monitor import TrainingMonitor, monitor

    m = monitor(nn.Linear(2, 2))
    assert isinstance(m, TrainingMonitor) and m.recorder is None
    assert callable(dlqa.monitor_callback)
