"""`dlqa exp` end to end: a tiny real "training" script in a real git repository, run as seed
groups (clean, dirty, failing, killed), compared (improved, regressed, another metric
definition, overridden, bad input), imported from JSON and re-run at its recorded commit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlqa.exp.groups import SeedGroup
from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.slow

# The seed's accuracy is noise around 0.8 (+ shift=X), deterministic in the seed; mode=...
# (comma-separated) plants failures in chosen seeds; metric=NAME renames the metric.
TRAIN = """\
import os
import random
import signal
import sys
import time

from dlqa.exp import current
from dlqa.train.metrics import metric_fingerprint

args = dict(arg.split("=", 1) for arg in sys.argv[1:])
SHIFT = float(args.get("shift", 0))
MODES = set(args.get("mode", "").split(","))
METRIC = args.get("metric", "accuracy")


def accuracy(correct, total):
    return correct / total


run = current()
rng = random.Random(run.seed)
print(f"seed {run.seed}: training", flush=True)
if "fail" in MODES and run.seed == 1:
    print("loss diverged at step 7", flush=True)
    sys.exit(1)
if "kill" in MODES and run.seed == 2:
    os.kill(os.getpid(), signal.SIGKILL)
if "sleep" in MODES and run.seed == 0:
    time.sleep(60)
if "files" in MODES and run.seed == 0:
    sys.exit(0)  # finished without logging a metric
if "files" in MODES and run.seed == 1:
    (run.run_dir / "metrics.json").write_text("{not json")
    sys.exit(0)
correct = round((0.8 + SHIFT + rng.gauss(0, 0.01)) * 10_000)
run.log(**{METRIC: accuracy(correct, 10_000)})
run.log_fingerprints(**{METRIC: metric_fingerprint(accuracy)})
"""
# The same script with another definition of the metric (its source differs).
TRAIN_V2 = TRAIN.replace("return correct / total", "return round(correct / total, 3)")
PY = sys.executable
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit_all(repo: Path, message: str = "change") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (project / "train.py").write_text(TRAIN)
    (project / "train_v2.py").write_text(TRAIN_V2)
    (project / ".gitignore").write_text(".dlqa/\n")
    git(project, "init", "-q")
    commit_all(project, "init")
    return project


def exp_run(name: str, *script_args: str, seeds: int = 3, options: tuple[str, ...] = ()) -> tuple:
    return run_cli(
        "exp", "run", name, "--seeds", str(seeds), "--workers", "2", "-q", *options,
        "--", PY, "train.py", *script_args,
    )  # fmt: skip


def results(path: Path) -> dict[str, dict]:
    document = json.loads(path.read_text())
    return {
        r["check_id"] + (f"[{r['subject']}]" if r.get("subject") else ""): r
        for r in document["results"]
    }


def statuses(path: Path) -> dict[str, str]:
    return {key: r["status"] for key, r in results(path).items()}


def show(name: str) -> str:
    """`dlqa exp show NAME` as one line of words (rich wraps the console's lines)."""
    code, out, err = run_cli("exp", "show", name)
    assert code == 0, out + err
    return " ".join(out.split())


def stored(name: str) -> SeedGroup:
    from dlqa.cli.common import open_configured_store
    from dlqa.runner.exp import stored_group

    with open_configured_store(None) as store:
        return stored_group(store, name)


def test_a_clean_tree_runs_and_stores_every_seed(repo: Path) -> None:
    code, out, err = exp_run("base", options=("--json", "run.json"))
    assert code == 0, out + err
    assert statuses(repo / "run.json") == {f"exp.seeds[seed={s}]": "pass" for s in range(3)}

    out = show("base")
    assert "base (run 1, exp.run)" in out
    assert all(f"│ {seed} │ ok │ 0.8" in out for seed in range(3)), out
    assert f"commit {git(repo, 'rev-parse', 'HEAD')}; reproducible: yes" in out

    code, out, err = run_cli("exp", "list")
    assert code == 0 and "base" in out and "3/3" in out, out + err

    group = stored("base")
    assert [s.seed for s in group.seeds] == [0, 1, 2] and group.reproducible
    assert len(set(group.values("accuracy"))) == 3  # one value per seed, not one seed thrice
    assert all(s.metric_fingerprints["accuracy"].startswith("sha256:") for s in group.seeds)
    assert group.environment and group.environment["sha256"]
    assert all(s.cpu_s is not None and s.max_rss_mb for s in group.seeds)
    log = repo / ".dlqa" / "exp" / "base" / f"run-{group.run_id}" / "seed-1" / "log.txt"
    assert log.read_text().startswith("seed 1: training")


def test_a_dirty_tree_is_refused_unless_allowed_and_then_not_reproducible(repo: Path) -> None:
    assert exp_run("base")[0] == 0
    (repo / "helper.py").write_text("SCALE = 2\n")  # a module never committed

    code, out, err = exp_run("cand")
    assert code == 2, out + err
    assert "helper.py (untracked)" in err and "--allow-dirty" in err
    assert "cand" not in run_cli("exp", "list")[1]  # nothing ran, nothing stored

    code, out, err = exp_run("cand", options=("--allow-dirty",))
    assert code == 0, out + err
    out = show("cand")
    assert "reproducible: NO (ran from a dirty tree with --allow-dirty (helper.py" in out, out

    code, out, err = run_cli("exp", "compare", "base", "cand", "--json", "c.json", "-q")
    assert code == 1, out + err
    found = results(repo / "c.json")
    assert found["exp.reproducible"]["status"] == "fail"
    assert "the candidate cand is not reproducible" in found["exp.reproducible"]["summary"]


def test_a_failing_seed_is_stored_with_its_log_and_the_others_kept(repo: Path) -> None:
    code, out, err = exp_run("broken", "mode=fail", options=("--json", "run.json"))
    assert code == 1, out + err
    found = results(repo / "run.json")
    assert [found[f"exp.seeds[seed={s}]"]["status"] for s in range(3)] == ["pass", "fail", "pass"]
    failed = found["exp.seeds[seed=1]"]
    assert failed["summary"] == "seed 1 failed: exit code 1 (loss diverged at step 7)"
    assert "loss diverged at step 7" in failed["details"]["log_tail"]

    group = stored("broken")
    assert [(s.seed, s.status) for s in group.seeds] == [(0, "ok"), (1, "failed"), (2, "ok")]
    assert group.seeds[1].returncode == 1 and len(group.values("accuracy")) == 2
    out = show("broken")
    assert "│ 1 │ failed │ - │" in out and "exit code 1" in out, out


def test_killed_and_timed_out_seeds_fail_as_killed(repo: Path) -> None:
    # seed 2 sends itself SIGKILL; seed 0 sleeps past --timeout and is killed by the runner.
    code, out, err = exp_run("killed", "mode=kill,sleep", options=("--timeout", "3"))
    assert code == 1, out + err
    group = stored("killed")
    by_seed = {s.seed: s for s in group.seeds}
    assert by_seed[1].status == "ok"
    for seed in (0, 2):
        assert by_seed[seed].status == "failed"
        assert by_seed[seed].reason == "killed by SIGKILL"
        assert by_seed[seed].returncode == -9
    assert by_seed[0].wall_s is not None and by_seed[0].wall_s < 30  # not the full sleep


def test_a_command_not_found_is_a_usage_error(repo: Path) -> None:
    code, out, err = run_cli("exp", "run", "x", "--seeds", "2", "--", "no-such-trainer-xyz")
    assert code == 2, out + err
    assert "command not found: no-such-trainer-xyz" in err
    assert "no seed groups stored yet" in run_cli("exp", "list")[1]


def test_a_missing_or_unreadable_metrics_file_fails_the_seed(repo: Path) -> None:
    code, out, err = exp_run("files", "mode=files")
    assert code == 1, out + err
    seeds = stored("files").seeds
    assert seeds[0].status == "failed"
    assert seeds[0].reason.startswith("finished without metrics: no metrics.json")
    assert seeds[1].status == "failed" and "metrics.json: unreadable" in seeds[1].reason
    assert seeds[2].status == "ok" and seeds[0].returncode == seeds[1].returncode == 0


def test_compare_a_clear_improvement_and_its_reverse(repo: Path) -> None:
    assert exp_run("base")[0] == 0
    assert exp_run("cand", "shift=0.1")[0] == 0

    code, out, err = run_cli("exp", "compare", "base", "cand", "--json", "c.json")
    assert code == 0, out + err
    found = results(repo / "c.json")
    compare = found["exp.compare[accuracy]"]
    assert compare["status"] == "pass" and compare["details"]["verdict"] == "improved"
    assert compare["value"] == pytest.approx(0.1, abs=0.03)
    for guard in ("exp.metric_definitions", "exp.reproducible", "exp.baseline_fresh"):
        assert found[guard]["status"] == "pass", found[guard]
    assert "baseline |" in out and "candidate |" in out  # the seeds as dots

    code, out, err = run_cli("exp", "compare", "cand", "base", "--json", "r.json", "-q")
    assert code == 1, out + err
    compare = results(repo / "r.json")["exp.compare[accuracy]"]
    assert compare["status"] == "fail" and compare["details"]["verdict"] == "regressed"


def test_another_metric_definition_fails_unless_overridden(repo: Path) -> None:
    assert exp_run("base")[0] == 0
    code, out, err = run_cli(
        "exp", "run", "v2", "--seeds", "3", "-w", "2", "-q", "--", PY, "train_v2.py", "shift=0.1"
    )
    assert code == 0, out + err

    code, out, err = run_cli("exp", "compare", "base", "v2", "--json", "c.json", "-q")
    assert code == 1, out + err
    guard = results(repo / "c.json")["exp.metric_definitions"]
    assert guard["status"] == "fail"
    assert "metric accuracy" in guard["summary"] and "not comparable" in guard["summary"]

    reason = "rounding only, reviewed by ana"
    code, out, err = run_cli(
        "exp", "compare", "base", "v2", "--json", "o.json", "-q",
        "--override", f"exp.metric_definitions={reason}",
    )  # fmt: skip
    found = results(repo / "o.json")
    guard = found["exp.metric_definitions"]
    assert guard["status"] == "warn" and guard["details"]["overridden"] == reason
    assert f"overridden ({reason})" in guard["summary"]
    assert found["exp.compare[accuracy]"]["details"]["verdict"] == "improved"
    assert code == 0, out + err  # the warning does not fail; the verdict decides

    code, out, err = run_cli("exp", "compare", "base", "v2", "--override", "no-reason")
    assert code == 2 and "GUARD=REASON" in err, out + err


def test_bad_comparisons_are_usage_errors(repo: Path) -> None:
    assert exp_run("base", seeds=2)[0] == 0
    assert exp_run("renamed", "metric=acc", seeds=2)[0] == 0

    code, out, err = run_cli("exp", "compare", "base", "renamed")
    assert code == 2 and "the groups logged different metrics" in err, out + err
    code, out, err = run_cli("exp", "compare", "base", "renamed", "--metric", "accuracy")
    assert code == 2 and "metric 'accuracy' was not logged by renamed" in err, out + err
    code, out, err = run_cli("exp", "compare", "base", "base")
    assert code == 2 and "compared with itself" in err, out + err
    code, out, err = run_cli("exp", "compare", "base", "nowhere")
    assert code == 2 and "no seed group named 'nowhere'" in err, out + err
    code, out, err = run_cli("exp", "compare")
    assert code == 2 and "name the two groups" in err, out + err


def test_recorded_json_runs_form_a_group_that_can_be_compared(repo: Path) -> None:
    assert exp_run("base")[0] == 0
    export = repo.parent / "export"
    export.mkdir()
    files = []
    for index, value in enumerate((0.90, 0.91, 0.905)):
        path = export / f"run{index}.json"
        path.write_text(json.dumps({"seed": 2 - index, "accuracy": value}))
        files.append(str(path))

    code, out, err = run_cli("exp", "record", "imported", *files, "-q")
    assert code == 0, out + err
    out = show("imported")
    assert "exp.record" in out and "reproducible: NO (imported without its commit)" in out, out
    assert [s.seed for s in stored("imported").seeds] == [2, 1, 0]  # seed 0 is a seed

    code, out, err = run_cli("exp", "compare", "base", "imported", "--json", "c.json", "-q")
    assert code == 1, out + err  # not reproducible: no commit on record
    found = statuses(repo / "c.json")
    assert found["exp.compare[accuracy]"] == "pass"
    assert found["exp.reproducible"] == "fail"
    assert found["exp.metric_definitions"] == "warn"  # only the baseline logged fingerprints

    commit = git(repo, "rev-parse", "HEAD")
    assert run_cli("exp", "record", "imported2", *files, "--commit", commit, "-q")[0] == 0
    code, out, err = run_cli("exp", "compare", "base", "imported2", "--json", "d.json", "-q")
    assert code == 0, out + err
    assert statuses(repo / "d.json")["exp.reproducible"] == "pass"

    (export / "bad.json").write_text("[1, 2]")
    code, out, err = run_cli("exp", "record", "bad", str(export / "bad.json"))
    assert code == 2 and "flat JSON object" in err, out + err
    (export / "bad.csv").write_text("seed,accuracy\nfirst,0.9\n")
    code, out, err = run_cli("exp", "record", "bad", str(export / "bad.csv"))
    assert code == 2 and "seed = 'first' is not an integer" in err, out + err


def test_outside_a_git_repository_runs_are_allowed_without_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (plain / "train.py").write_text(TRAIN)
    code, out, err = exp_run("base", seeds=2)
    assert code == 0, out + err
    out = show("base")
    assert "commit -; reproducible: NO (not a git repository: no commit on record)" in out, out
    group = stored("base")
    assert group.git is None and not group.reproducible and len(group.ok) == 2
    code, out, err = run_cli("exp", "rerun", "base")
    assert code == 2 and "no recorded commit" in err, out + err


def test_rerun_runs_the_group_again_at_its_recorded_commit(repo: Path) -> None:
    assert exp_run("base")[0] == 0
    original = stored("base")
    # The code moves on: the re-run must still use the recorded commit's script.
    (repo / "train.py").write_text(TRAIN.replace("0.8 + SHIFT", "0.5 + SHIFT"))
    commit_all(repo, "worse")

    code, out, err = run_cli("exp", "rerun", "base", "-q")
    assert code == 0, out + err
    again = stored("base")
    assert again.run_id != original.run_id
    assert again.source == "exp.rerun" and again.rerun_of == original.run_id
    assert again.git["commit"] == original.git["commit"] and again.reproducible
    assert again.command == original.command
    assert [s.seed for s in again.seeds] == [0, 1, 2]
    assert again.values("accuracy") == original.values("accuracy")
    assert len(git(repo, "worktree", "list").splitlines()) == 1  # the worktree is gone
    assert f"base (run {again.run_id}, exp.rerun)" in show("base")


def test_own_output_is_not_dirt_in_a_project_inside_a_bigger_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A project in a subfolder of its repository, without a .gitignore: the store, reports
    # and seed folders (sub/.dlqa/...) are dlqa's own output, not untracked source.
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    project = tmp_path / "mono" / "sub"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)
    (project / "train.py").write_text(TRAIN)
    git(project.parent, "init", "-q")
    commit_all(project.parent, "init")
    assert exp_run("a", seeds=1)[0] == 0
    code, out, err = exp_run("b", seeds=1)  # after a's output landed in sub/.dlqa/
    assert code == 0, out + err

    # However much output there is, an untracked module is still seen.
    old = project / ".dlqa" / "exp" / "old"
    old.mkdir(parents=True)
    for i in range(30):
        (old / f"{i:02d}.json").write_text("{}")
    (project / "zz_helper.py").write_text("X = 1\n")
    code, out, err = exp_run("c", seeds=1)
    assert code == 2 and "sub/zz_helper.py (untracked)" in err, out + err


ABLATED = """
import random, sys
from dlqa.exp import current

run = current()
rng = random.Random(run.seed * 13 + len(sys.argv))
accuracy = 0.80
if "--a" in sys.argv:
    accuracy += float(sys.argv[sys.argv.index("--a") + 1])
if "--b" in sys.argv:
    accuracy += 0.06
run.log(accuracy=accuracy + rng.gauss(0, 0.005))
"""


@pytest.mark.parametrize(("a_effect", "masked"), [("-0.03", True), ("0.0", False)])
def test_ablation_flags_a_regression_masked_by_a_bigger_gain(
    repo: Path, a_effect: str, masked: bool
) -> None:
    (repo / "ablated.py").write_text(ABLATED)
    commit_all(repo, "ablated")
    code, out, err = run_cli(
        "exp", "ablate", "abl", "--change", f"A=--a {a_effect}", "--change", "B=--b",
        "--seeds", "4", "--workers", "2", "-q", "--json", str(repo / ".dlqa" / "abl.json"),
        "--", PY, "ablated.py",
    )  # fmt: skip
    assert (repo / ".dlqa" / "abl.json").exists(), out + err
    found = results(repo / ".dlqa" / "abl.json")
    masking = found["exp.masked_regression[accuracy]"]
    assert found["exp.ablation[accuracy]"]["status"] == "pass"
    if masked:
        assert code == 1 and masking["status"] == "fail"
        assert "A hurts on its own" in masking["summary"] and "B helps more" in masking["summary"]
    else:
        assert code == 0 and masking["status"] == "pass", masking["summary"]
    code, out, err = run_cli("exp", "show", "abl@A+B")
    assert code == 0 and "abl@A+B" in out


def test_an_ablation_without_changes_or_arguments_is_a_usage_error(repo: Path) -> None:
    code, _, err = run_cli("exp", "ablate", "abl", "--", PY, "train.py")
    assert code == 2 and "an ablation needs changes" in err
    code, _, err = run_cli("exp", "ablate", "abl", "--change", "A=", "--", PY, "train.py")
    assert code == 2 and err.count("dlqa: error:") == 1 and "names no arguments" in err


def test_releases_are_gated_against_the_previous_one(repo: Path) -> None:
    assert exp_run("v1")[0] == 0
    assert exp_run("v2", "shift=0.001")[0] == 0  # within noise
    assert exp_run("v3", "shift=-0.05")[0] == 0  # a clear regression
    code, out, _ = run_cli("release", "record", "1.0", "--group", "v1")
    assert code == 0 and "the first one, nothing to compare it with" in " ".join(out.split())
    code, _, err = run_cli("release", "history")
    assert code == 0
    report = repo / ".dlqa" / "rel.json"
    code, _, _ = run_cli("release", "record", "1.1", "--group", "v2", "--json", str(report), "-q")
    assert code == 0 and statuses(report)["exp.release_regression[accuracy]"] == "pass"
    code, _, _ = run_cli("release", "record", "1.2", "--group", "v3", "--json", str(report), "-q")
    regression = results(report)["exp.release_regression[accuracy]"]
    assert code == 1 and regression["status"] == "fail" and "1.1 -> 1.2" in regression["summary"]
    code, _, err = run_cli("release", "record", "1.2", "--group", "v2")
    assert code == 2 and "already recorded" in err
    code, _, err = run_cli("release", "record", "1.3")
    assert code == 2 and "one source" in err
    page = repo / ".dlqa" / "history.html"
    code, out, _ = run_cli("release", "history", "--html", str(page))
    assert code == 0 and page.read_text().count("<svg") == 1  # one metric, three releases
