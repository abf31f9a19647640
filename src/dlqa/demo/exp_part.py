"""The demo's experiment part: seed groups of the CNN, compared with statistics and guards.

Three groups of three short seeds each (`dlqa exp run`, each seed a process running
:mod:`dlqa.demo.exp_train`): a baseline of 3 epochs, a candidate of 10 epochs, and the same
candidate with the planted mistake, accuracy computed as top-2 accuracy. The project is made
a git repository first (its data and config committed; reports and models ignored) so that
the groups are reproducible. Then `dlqa exp compare` twice: baseline against candidate (the
longer training must come out "improved" with every guard passing), and baseline against the
changed metric (``exp.metric_definitions`` must fail: the planted problem of this part).
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
GROUPS = {
    "cnn-3-epochs": ["--epochs", "3"],
    "cnn-10-epochs": ["--epochs", "10"],
    "cnn-10-epochs-top2": ["--epochs", "10", "--metric", "top2"],
}
BASELINE, CANDIDATE, CHANGED_METRIC = GROUPS
IGNORED = ".dlqa/\nmodels/\n"
PLANTED = {"changed_metric": []}


@dataclass(frozen=True)
class ExpPart:
    groups: list[RunSession]
    comparison: RunSession  # baseline vs candidate: must pass
    guarded: RunSession  # baseline vs the changed metric: exp.metric_definitions fails

    def unexpected(self) -> list[str]:
        """Failures nothing was planted for: a failed seed, the clean comparison's."""
        found = {r.key for run in (*self.groups, self.comparison) for r in run.results
                 if gate_fails(r)}  # fmt: skip
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
    from dlqa.runner.exp import compare_groups, run_group

    clean = commit_project(root)
    command = [sys.executable, "-m", "dlqa.demo.exp_train"]
    groups = [
        run_group(
            config,
            name,
            command + args,
            seeds=SEEDS,
            allow_dirty=not clean,
            explicit_reports={},
            **session,
        )  # fmt: skip
        for name, args in GROUPS.items()
    ]
    comparison = compare_groups(config, BASELINE, CANDIDATE, metrics=["accuracy"], **session)
    guarded = compare_groups(config, BASELINE, CHANGED_METRIC, metrics=["accuracy"], **session)
    return ExpPart(groups, comparison, guarded)


def exp_lines(part: ExpPart) -> list[str]:
    """What `dlqa demo` says about the experiment part."""
    lines = []
    for run in (part.comparison, part.guarded):
        compared = next((r for r in run.results if r.check_id == "exp.compare"), None)
        guard = next((r for r in run.results if r.check_id == "exp.metric_definitions"), None)
        if compared is not None:
            lines.append(f"Seed groups compared (run {run.run_id}): {compared.summary}")
        if guard is not None and gate_fails(guard):
            lines.append(f"  guard exp.metric_definitions: {guard.summary}")
    return lines


__all__ = ["BASELINE", "CANDIDATE", "CHANGED_METRIC", "PLANTED", "ExpPart", "exp_lines",
           "run_exp_part"]  # fmt: skip
