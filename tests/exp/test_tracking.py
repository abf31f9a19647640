"""The script side of `dlqa exp run`: what a seed logs lands in its run folder as the runner
reads it, bad values fail in the script (not later in the comparison), and a folder the runner
cannot read is a problem it can name."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dlqa.exp.tracking import ExpRun, RunFolder, current, read_run_folder


@pytest.fixture
def run(tmp_path: Path, monkeypatch) -> ExpRun:
    folder = tmp_path / "seed-3"
    monkeypatch.setenv("DLQA_SEED", "3")
    monkeypatch.setenv("DLQA_RUN_DIR", str(folder))
    monkeypatch.setenv("DLQA_EXP_GROUP", "baseline")
    return current()


def test_inside_a_run_the_logs_land_in_the_run_folder(run: ExpRun) -> None:
    assert run.active and (run.seed, run.group) == (3, "baseline")
    run.log(accuracy=0.91, loss=np.float32(0.25), epochs=np.int64(10))
    run.log(accuracy=0.93)  # a later value replaces the earlier one
    assert json.loads((run.run_dir / "metrics.json").read_text()) == {
        "accuracy": 0.93, "loss": 0.25, "epochs": 10,
    }  # fmt: skip
    run.log_params(lr=1e-3, layers=[64, 64], optim={"name": "adam"})
    run.log_params(lr=3e-4)
    run.log_fingerprints(accuracy="sha256:aa", loss="sha256:bb")
    run.log_eval_set("val", "sha256:cc")
    run.log_data("sha256:dd")
    model = run.run_dir / "model.pt"
    model.write_bytes(b"weights")
    assert run.log_artifact(model) == hashlib.sha256(b"weights").hexdigest()

    folder = read_run_folder(run.run_dir)
    assert folder.problems == []
    assert folder.metrics == {"accuracy": 0.93, "loss": 0.25, "epochs": 10.0}
    assert folder.meta == {
        "params": {"lr": 3e-4, "layers": [64, 64], "optim": {"name": "adam"}},
        "metric_fingerprints": {"accuracy": "sha256:aa", "loss": "sha256:bb"},
        "eval_sets": {"val": "sha256:cc"},
        "data": "sha256:dd",
        "artifacts": {"model.pt": hashlib.sha256(b"weights").hexdigest()},
    }
    assert not list(run.run_dir.glob("*.tmp"))  # written through a rename, nothing left over


def test_two_handles_on_the_same_run_merge_their_logs(run: ExpRun) -> None:
    run.log(a=1.0)
    current().log(b=2.0)
    assert read_run_folder(run.run_dir).metrics == {"a": 1.0, "b": 2.0}


def test_an_artifact_outside_the_folder_keeps_its_absolute_path(run: ExpRun, tmp_path) -> None:
    outside = tmp_path / "export.onnx"
    outside.write_bytes(b"onnx")
    run.log_artifact(outside)
    assert list(run.meta["artifacts"]) == [str(outside.resolve())]
    with pytest.raises(FileNotFoundError):
        run.log_artifact(tmp_path / "missing.onnx")


@pytest.mark.parametrize(
    "value", ["0.9", None, True, float("nan"), float("inf"), [0.9], np.array([1.0, 2.0])]
)
def test_a_metric_must_be_one_finite_number(run: ExpRun, value) -> None:
    with pytest.raises(ValueError, match="metric accuracy"):
        run.log(accuracy=value)
    assert not (run.run_dir / "metrics.json").exists()  # nothing half-written


def test_numbers_of_other_kinds_are_accepted(run: ExpRun) -> None:
    run.log(a=np.array(0.5), b=Fraction(1, 4), c=7)
    assert read_run_folder(run.run_dir).metrics == {"a": 0.5, "b": 0.25, "c": 7.0}


def test_params_and_fingerprints_are_checked(run: ExpRun) -> None:
    with pytest.raises(ValueError, match="param path"):
        run.log_params(path=Path("x"))
    with pytest.raises(ValueError, match="param lr"):
        run.log_params(lr=float("nan"))
    with pytest.raises(ValueError, match="accuracy"):
        run.log_fingerprints(accuracy=None)
    with pytest.raises(ValueError):
        run.log_eval_set("", "sha256:cc")
    with pytest.raises(ValueError):
        run.log_data("")


def test_outside_a_run_logs_stay_in_memory(tmp_path: Path, monkeypatch) -> None:
    for name in ("DLQA_SEED", "DLQA_RUN_DIR", "DLQA_EXP_GROUP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    run = current(default_seed=7)
    assert not run.active and run.seed == 7 and run.run_dir is None and run.group is None
    run.log(accuracy=0.5)
    run.log_params(lr=0.1)
    assert run.metrics == {"accuracy": 0.5} and run.meta == {"params": {"lr": 0.1}}
    with pytest.raises(ValueError):
        run.log(accuracy="high")  # the same checks as inside a run
    assert list(tmp_path.iterdir()) == []


def test_a_seed_that_is_not_an_integer(monkeypatch) -> None:
    monkeypatch.setenv("DLQA_SEED", "three")
    with pytest.raises(ValueError, match="DLQA_SEED"):
        current()


def test_a_folder_without_metrics(tmp_path: Path) -> None:
    folder = read_run_folder(tmp_path)
    assert isinstance(folder, RunFolder) and folder.metrics == {} and folder.meta == {}
    assert len(folder.problems) == 1 and "no metrics.json" in folder.problems[0]


def test_unreadable_metrics(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("{accuracy: 0.9")
    (tmp_path / "dlqa-exp.json").write_text("[1, 2]")
    folder = read_run_folder(tmp_path)
    assert folder.metrics == {} and folder.meta == {}
    assert "metrics.json: unreadable" in folder.problems[0]
    assert "dlqa-exp.json: not a JSON object" in folder.problems[1]


def test_values_that_are_not_numbers_are_named(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text(
        '{"accuracy": 0.9, "loss": "low", "ok": true, "f1": NaN, "n": 10}'
    )
    folder = read_run_folder(tmp_path)
    assert folder.metrics == {"accuracy": 0.9, "n": 10.0}
    assert len(folder.problems) == 3
    for key, problem in zip(("loss", "ok", "f1"), folder.problems, strict=True):
        assert problem.startswith(f"metrics.json: {key} is not ")
