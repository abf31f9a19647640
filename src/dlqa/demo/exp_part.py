"""The demo's experiment part: seed groups of the CNN, an ablation, comparisons with
statistics and guards, and two releases.

The project is made a git repository first (its data and config committed; reports and
models ignored) so that the groups are reproducible. Each seed is a process running
:mod:`dlqa.demo.exp_train` (`dlqa exp run`), three seeds a group:

* `dlqa exp ablate cnn`: the CNN at 3 epochs (``cnn@base``) with two changes, ``flip``
  (mirrored training images: a mirrored 2 is no 2, so it hurts) and ``longer`` (10 epochs:
  it helps more), alone and together. The bundle ``flip+longer`` beats the baseline while
  ``flip`` hurts on its own: ``exp.masked_regression`` must fail (the ablation's planted
  problem, seed 003's pattern 3).
* a group of 10 epochs whose script computes "accuracy" as top-2 accuracy (the exp part's
  planted mistake).
* `dlqa exp compare` twice: ``cnn@base`` against ``cnn@longer`` (must come out "improved"
  with every guard passing), and against the changed metric (``exp.metric_definitions``
  must fail).
* `dlqa release record` 1.0 (``cnn@base``) and 1.1 (``cnn@longer``): the release gate must
  pass, and the history shows both.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dlqa.config import Config
from dlqa.core.gates import gate_fails
from dlqa.runner.session import RunSession

SEEDS = 3
ABLATION = "cnn"
BASE_ARGS = ["--epochs", "3"]
CHANGES = {"flip": "--flip 0.5", "longer": "--epochs 10"}  # the last --epochs wins
BASELINE, CANDIDATE = f"{ABLATION}@base", f"{ABLATION}@longer"
CHANGED_METRIC = "cnn-10-epochs-top2"
CHANGED_METRIC_ARGS = ["--epochs", "10", "--metric", "top2"]
RELEASES = {"1.0": BASELINE, "1.1": CANDIDATE}
IGNORED = ".dlqa/\nmodels/\n"
PLANTED = {"changed_metric": []}
ABLATION_PLANTED = {"masked_regression": []}


@dataclass(frozen=True)
class ExpPart:
    groups: list[RunSession]  # the ablation's cells and the changed metric's group
    ablation: RunSession  # the ablation's analysis: exp.masked_regression fails
    comparison: RunSession  # baseline vs candidate: must pass
    guarded: RunSession  # baseline vs the changed metric: exp.metric_definitions fails
    releases: list[RunSession]  # 1.0 and 1.1: the release gate passes

    def unexpected(self) -> list[str]:
        """Failures nothing was planted for: a failed seed, the clean comparison's, the
        release gate's, an ablation check other than the masked regression."""
        clean = (*self.groups, self.comparison, *self.releases)
        found = {r.key for run in clean for r in run.results if gate_fails(r)}
        found |= {r.key for r in self.ablation.results
                  if gate_fails(r) and r.check_id != "exp.masked_regression"}  # fmt: skip
        return sorted(found)


def commit_project(root: Path) -> bool:
    """Make the demo project a git repository with everything committed (reports, models and
    seed run folders ignored); False when git is not there."""

    def git(*args: str) -> bool:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), "-c", "user.name=dlqa demo",
                 "-c", "user.email=demo@dlqa.invalid", *args],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    (root / ".gitignore").write_text(IGNORED, encoding="utf-8")
    return git("init", "-q") and git("add", "-A") and git("commit", "-q", "-m", "dlqa demo")


def run_exp_part(config: Config, root: Path, **session: object) -> ExpPart:
    from dlqa.runner.exp import compare_groups, run_ablation, run_group
    from dlqa.runner.releases import record_release
    from dlqa.store import open_store, resolve_database_url

    clean = commit_project(root)
    command = [sys.executable, "-m", "dlqa.demo.exp_train"]
    options = {"seeds": SEEDS, "allow_dirty": not clean, "explicit_reports": {}, **session}
    *cells, ablation = run_ablation(
        config, ABLATION, CHANGES, command + BASE_ARGS, metric="accuracy", **options
    )
    changed = run_group(config, CHANGED_METRIC, command + CHANGED_METRIC_ARGS, **options)
    comparison = compare_groups(config, BASELINE, CANDIDATE, metrics=["accuracy"], **session)
    guarded = compare_groups(config, BASELINE, CHANGED_METRIC, metrics=["accuracy"], **session)
    url = resolve_database_url(None, config.store.url, config.base_dir)
    with open_store(url, project_dir=config.base_dir, artifacts=config.store.artifacts) as store:
        releases = [
            record_release(config, store, version, group=group, explicit_reports={}, **session)
            for version, group in RELEASES.items()
        ]
    return ExpPart([*cells, changed], ablation, comparison, guarded, releases)


def exp_lines(part: ExpPart) -> list[str]:
    """What `dlqa demo` says about the experiment part."""
    lines = []
    masked = next((r for r in part.ablation.results if r.check_id == "exp.masked_regression"), None)
    if masked is not None:
        lines.append(f"Ablation of the CNN (run {part.ablation.run_id}): {masked.summary}")
    for run in (part.comparison, part.guarded):
        compared = next((r for r in run.results if r.check_id == "exp.compare"), None)
        guard = next((r for r in run.results if r.check_id == "exp.metric_definitions"), None)
        if compared is not None:
            lines.append(f"Seed groups compared (run {run.run_id}): {compared.summary}")
        if guard is not None and gate_fails(guard):
            lines.append(f"  guard exp.metric_definitions: {guard.summary}")
    for run in part.releases:
        gate = [r for r in run.results if r.check_id == "exp.release_regression"]
        verdicts = "; ".join(r.summary for r in gate) or "the first release: nothing to gate"
        lines.append(f"Release recorded (run {run.run_id}): {verdicts}")
    return lines


__all__ = ["ABLATION_PLANTED", "BASELINE", "CANDIDATE", "CHANGED_METRIC", "PLANTED", "ExpPart",
           "exp_lines", "run_exp_part"]  # fmt: skip
