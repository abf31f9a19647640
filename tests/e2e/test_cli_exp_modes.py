"""`dlqa exp` with the mode matrix and the sequential design, end to end: a real script in a
real git repository, run per mode combination (DLQA_MODE_* and {name} placeholders), compared
on every mode (a regression on one mode only fails), and compared seed by seed until decided
(`compare --sequential`, `run --until-decided`), with the bad inputs as usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli
from tests.e2e.test_cli_exp import PY, commit_all, repo, results, stored  # noqa: F401

pytestmark = pytest.mark.slow

# The backbone comes from the environment, the precision from a {precision} argument; hurt=
# "BACKBONE-PRECISION" costs that one mode 0.05 of accuracy.
TRAIN_MODES = """\
import os
import random
import sys

from dlqa.exp import current

args = dict(arg.split("=", 1) for arg in sys.argv[1:])
backbone = os.environ["DLQA_MODE_BACKBONE"]
precision = args["precision"]
run = current()
rng = random.Random(run.seed)
shift = -0.05 if args.get("hurt") == f"{backbone}-{precision}" else 0.0
run.log(accuracy=0.8 + {"resnet": 0.0, "vit": 0.02}[backbone] + shift + rng.gauss(0, 0.005))
"""
MODES_TOML = '[exp]\nmodes = { backbone = ["resnet", "vit"], precision = ["fp32", "amp"] }\n'


@pytest.fixture
def modes_repo(repo: Path) -> Path:  # noqa: F811
    (repo / "train_modes.py").write_text(TRAIN_MODES)
    (repo / "dlqa.toml").write_text(MODES_TOML)
    commit_all(repo, "modes")
    return repo


def run_modes(name: str, *args: str, options: tuple[str, ...] = ()) -> tuple:
    return run_cli(
        "exp", "run", name, "--seeds", "3", "--workers", "2", "-q", *options,
        "--", PY, "train_modes.py", "precision={precision}", *args,
    )  # fmt: skip


def test_each_mode_is_a_group_and_a_regression_on_one_mode_fails(modes_repo: Path) -> None:
    assert run_modes("base")[0] == 0
    code, out, err = run_modes("cand", "hurt=vit-amp")
    assert code == 0, out + err
    group = stored("cand@backbone=vit,precision=amp")
    assert group.mode == {"backbone": "vit", "precision": "amp"}
    assert "precision=amp" in group.command  # the placeholder was replaced
    assert len(group.ok) == 3 and 0.76 < group.values("accuracy")[0] < 0.8  # vit (env), hurt

    report = modes_repo.parent / "modes.json"
    code, out, err = run_cli("exp", "compare", "base", "cand", "--all-modes",
                             "--min-effect", "0.02", "--json", str(report))  # fmt: skip
    assert code == 1, out + err
    found = results(report)
    assert found["exp.mode_matrix[accuracy]"]["status"] == "fail"
    assert "backbone=vit,precision=amp" in found["exp.mode_matrix[accuracy]"]["summary"]
    compared = {k: r["status"] for k, r in found.items() if k.startswith("exp.compare")}
    assert compared == {
        "exp.compare[accuracy @ backbone=resnet,precision=fp32]": "pass",
        "exp.compare[accuracy @ backbone=resnet,precision=amp]": "pass",
        "exp.compare[accuracy @ backbone=vit,precision=fp32]": "pass",
        "exp.compare[accuracy @ backbone=vit,precision=amp]": "fail",
    }
    assert found["exp.reproducible[backbone=vit,precision=amp]"]["status"] == "pass"
    # `dlqa check` with [exp] baseline and candidate compares every mode as well.
    toml = MODES_TOML + 'baseline = "base"\ncandidate = "cand"\nmin_effect = 0.02\n'
    (modes_repo / "dlqa.toml").write_text(toml)
    code, out, err = run_cli("check", "--json", str(report), "-q")
    assert code == 1, out + err
    assert results(report)["exp.mode_matrix[accuracy]"]["status"] == "fail"


def test_a_change_that_hurts_no_mode_passes_every_mode(modes_repo: Path) -> None:
    assert run_modes("base")[0] == 0
    assert run_modes("cand", options=("--mode", "backbone=vit"))[0] == 0  # only the vit modes
    assert stored("cand@backbone=vit,precision=fp32").mode["backbone"] == "vit"
    code, out, err = run_cli("exp", "compare", "base", "cand", "--all-modes")
    assert code == 2 and "no seed group named 'cand@backbone=resnet,precision=fp32'" in err
    assert run_modes("cand")[0] == 0
    code, out, err = run_cli("exp", "compare", "base", "cand", "--all-modes", "--min-effect", ".02")
    assert code == 0, out + err


def test_bad_modes_are_usage_errors(modes_repo: Path) -> None:
    code, _, err = run_cli("exp", "run", "x", "--", PY, "train_modes.py", "{optimizer}")
    assert code == 2 and "no mode 'optimizer'" in err
    code, _, err = run_modes("x", options=("--mode", "backbone=mlp"))
    assert code == 2 and "no value 'mlp'" in err
    (modes_repo / "dlqa.toml").write_text('[exp]\nmodes = { backbone = "resnet" }\n')
    code, _, err = run_modes("x")
    assert code == 2 and "exp.modes.backbone" in err and "list" in err
    (modes_repo / "dlqa.toml").write_text('[exp]\nmodes = { backbone = ["a,b"] }\n')
    code, _, err = run_modes("x")
    assert code == 2 and "'a,b' has characters a group name cannot hold" in err
    (modes_repo / "dlqa.toml").write_text("[exp]\n")
    code, _, err = run_cli("exp", "compare", "a", "b", "--all-modes")
    assert code == 2 and "--all-modes" in err and "none is declared" in err


def test_compare_sequential_extends_both_groups_until_decided(repo: Path) -> None:  # noqa: F811
    common = ("--seeds", "3", "--workers", "2", "-q", "--", PY, "train.py")
    assert run_cli("exp", "run", "base", *common)[0] == 0
    assert run_cli("exp", "run", "cand", *common, "shift=0.03")[0] == 0
    (repo / "notes.md").write_text("later work\n")
    commit_all(repo)  # the groups' commit is no longer HEAD: their seeds run in a worktree
    report = repo.parent / "sequential.json"
    code, out, err = run_cli("exp", "compare", "--sequential", "base", "cand", "--min-effect",
                             "0.01", "--max-seeds", "10", "--json", str(report))  # fmt: skip
    assert code == 0, out + err
    result = results(report)["exp.compare[accuracy]"]
    assert result["details"]["verdict"] == "improved", result["summary"]
    looks = next(e for e in result["evidence"] if e["kind"] == "sequential_path")["items"]
    assert looks[-1]["decision"] == "improved" and looks[0]["decision"] == "continue"
    seeds = looks[-1]["seeds"]
    assert 3 < seeds < 10 and result["details"]["seeds_used"] == 2 * seeds
    assert [s.seed for s in stored("base").ok] == list(range(seeds))
    assert len(stored("cand").ok) == seeds


def test_run_until_decided_stops_at_no_difference_and_a_failed_seed_fails(repo: Path) -> None:  # noqa: F811
    assert run_cli("exp", "run", "base", "--seeds", "3", "-q", "--", PY, "train.py")[0] == 0
    report = repo.parent / "until.json"
    options = ("--baseline", "base", "--min-effect", "0.01", "--max-seeds", "8")
    code, out, err = run_cli("exp", "run", "same", "--until-decided", *options, "--json",
                             str(report), "--", PY, "train.py")  # fmt: skip
    assert code == 0, out + err
    details = results(report)["exp.compare[accuracy]"]["details"]
    assert details["verdict"] == "no_difference" and details["seeds_used"] <= 16
    assert len(stored("same").ok) == details["seeds_used"] // 2

    code, out, err = run_cli("exp", "run", "broken", "--until-decided", *options, "--json",
                             str(report), "--", PY, "train.py", "mode=fail")  # fmt: skip
    assert code == 1, out + err
    failed = results(report)["exp.compare[accuracy]"]
    assert failed["status"] == "fail" and "broken seed 1: exit code 1" in failed["summary"]
    assert [s.status for s in stored("broken").seeds][:2] == ["ok", "failed"]


def test_bad_sequential_options_are_usage_errors(repo: Path) -> None:  # noqa: F811
    assert run_cli("exp", "run", "base", "--seeds", "2", "-q", "--", PY, "train.py")[0] == 0
    assert run_cli("exp", "run", "cand", "--seeds", "2", "-q", "--", PY, "train.py")[0] == 0
    code, _, err = run_cli("exp", "compare", "--sequential", "base", "cand")
    assert code == 2 and "smallest difference that matters" in err
    code, _, err = run_cli("exp", "compare", "--sequential", "--all-modes", "base", "cand")
    assert code == 2 and "--sequential decides one pair" in err
    code, _, err = run_cli("exp", "compare", "--sequential", "base", "cand", "--min-effect",
                           "0.01", "--metric", "accuracy", "--metric", "loss")  # fmt: skip
    assert code == 2 and "one --metric" in err
    recorded = repo.parent / "r.json"
    recorded.write_text(json.dumps({"accuracy": 0.8}))
    assert run_cli("exp", "record", "imported", str(recorded), str(recorded))[0] == 0
    code, _, err = run_cli("exp", "compare", "--sequential", "imported", "cand",
                           "--min-effect", "0.01")  # fmt: skip
    assert code == 2 and "'imported' was imported" in err


def test_a_sequential_ablation_runs_each_cell_until_decided(repo: Path) -> None:  # noqa: F811
    from tests.e2e.test_cli_exp import ABLATED

    (repo / "ablated.py").write_text(ABLATED)
    commit_all(repo, "ablated")
    report = repo.parent / "ablation.json"
    code, out, err = run_cli(
        "exp", "ablate", "abl", "--change", "A=--a -0.03", "--change", "B=--b", "--seeds", "3",
        "--sequential", "--min-effect", "0.01", "--max-seeds", "8", "-q", "--json", str(report),
        "--", PY, "ablated.py",
    )  # fmt: skip
    assert code == 1, out + err  # the masked regression, not the cells' own verdicts
    found = results(report)
    assert found["exp.masked_regression[accuracy]"]["status"] == "fail"
    for cell in ("abl@A", "abl@B", "abl@A+B"):
        assert 3 <= len(stored(cell).ok) <= 8, cell
    assert len(stored("abl@base").ok) >= 3
    code, _, err = run_cli("exp", "ablate", "abl", "--change", "A=--a 1", "--sequential",
                           "--", PY, "ablated.py")  # fmt: skip
    assert code == 2 and "smallest difference that matters" in err
