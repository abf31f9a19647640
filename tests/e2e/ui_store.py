"""A small populated project for the dashboard's browser tests, built through the real CLI.

``build_ui_project(root)`` writes image folders with hostile file names and a hostile class
name, profiles them twice (two snapshots, the first with an evidence gallery), draws a
review sample, measures the agreement of annotators who disagree, runs ``dlqa check`` and
records a few runs of the other stages through the Store API (evaluating, exporting and
training for real would take minutes). It returns what the tests look for.
"""

from __future__ import annotations

import contextlib
import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dlqa.core.results import CheckResult, Interval
from dlqa.store import open_store
from tests.e2e.conftest import run_cli

# File names and a class name that would run script if a page did not escape them.
HOSTILE_FILE = "<img src=x onerror=alert(1)>.png"
QUOTE_FILE = "\"quote'.png"
NON_UTF8_FILE = b"caf\xe9.png"
HOSTILE_LABEL = "<svg onload=alert(2)>"
CLASSES = ("cat", "dog", HOSTILE_LABEL)
HOSTILE_VOTE = "<script>alert(3)</script>"
PER_CLASS = 8
REVIEW_SIZE = 6

CONFIG = """
[data]
source = "data"

[labels]
agreement = "votes.csv"
"""


@dataclass
class UiProject:
    """The project folder, its store URL and the ids the tests look for."""

    root: Path
    store_url: str
    profile_run: int = 0
    snapshots: list[int] = field(default_factory=list)
    review_id: int = 0
    source: str = ""
    agreement_run: int = 0
    check_run: int = 0
    stage_runs: dict[str, int] = field(default_factory=dict)

    def open_store(self):  # type: ignore[no-untyped-def]
        return open_store(self.store_url, project_dir=self.root)


def noise_png(path: Path, rng: np.random.Generator) -> None:
    pixels = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def write_images(data: Path, seed: int = 0) -> None:
    """Noise PNGs per class, a black frame under a hostile name (data.dark flags it, so it
    shows in the evidence gallery), a quoted name and a name that is not UTF-8."""
    rng = np.random.default_rng(seed)
    for label in CLASSES:
        (data / label).mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            noise_png(data / label / f"{i:02d}.png", rng)
    Image.new("RGB", (32, 32), (2, 2, 3)).save(data / "cat" / HOSTILE_FILE)
    noise_png(data / "dog" / QUOTE_FILE, rng)
    noise_png(Path(os.path.join(os.fsencode(data / "dog"), NON_UTF8_FILE).decode(
        errors="surrogateescape")), rng)  # fmt: skip


def change_images(data: Path) -> None:
    """What the second snapshot changes: the hostile file (still dark), and a new sample of
    the hostile class, so that the diff names both."""
    Image.new("RGB", (32, 32), (4, 3, 2)).save(data / "cat" / HOSTILE_FILE)
    noise_png(data / HOSTILE_LABEL / "added.png", np.random.default_rng(99))


def write_votes(path: Path, n_items: int = 24, seed: int = 0) -> None:
    """Three annotators; every third item split between them, one label hostile."""
    rng = np.random.default_rng(seed)
    labels = ["cat", "dog", HOSTILE_VOTE]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "annotator", "label"])
        for item in range(n_items):
            truth = labels[int(rng.integers(0, 2))]
            for number, annotator in enumerate(("ann", "bob", "cy")):
                label = labels[number] if item % 3 == 0 else truth
                writer.writerow([f"img{item:02d}", annotator, label])


def cli(*args: str) -> str:
    code, out, err = run_cli(*args)
    if code not in (0, 1):
        raise RuntimeError(f"dlqa {' '.join(args)} exited {code}: {err or out}")
    return out


def build_ui_project(root: Path, store_url: str | None = None) -> UiProject:
    """Build the project in ``root``; its store at ``store_url`` (default: SQLite inside)."""
    root.mkdir(parents=True, exist_ok=True)
    url = store_url or f"sqlite:///{(root / '.dlqa' / 'dlqa.db').as_posix()}"
    project = UiProject(root=root, store_url=url)
    (root / "dlqa.toml").write_text(CONFIG, encoding="utf-8")
    write_images(root / "data")
    write_votes(root / "votes.csv")
    with contextlib.chdir(root):
        cli("data", "profile", "data", "-q", "-w", "1", "--db", url)
        change_images(root / "data")
        cli("data", "profile", "data", "-q", "-w", "1", "--db", url)
        cli("data", "review", "sample", "latest~1", "--seed", "1", "--size", str(REVIEW_SIZE),
            "--out", "review", "--db", url)  # fmt: skip
        cli("labels", "agreement", "votes.csv", "-q", "--db", url)
        cli("check", "-q", "--db", url)
    _record_stage_runs(project)
    _note_ids(project)
    return project


# One run per stage page, as the stage commands store them: kind, command, a result and the
# report part that the page draws (a seed group, a release's metrics, a loss curve).
PARITY_VARIANT = "onnx_fp32"
SEEDS = [{"seed": s, "status": "ok", "metrics": {"accuracy": 0.90 + s / 100}} for s in range(3)]
STAGE_RUNS = (
    ("model.eval", "dlqa model eval", "eval.accuracy", 0.91, {}),
    ("deploy.check", "dlqa deploy check", "deploy.parity", 2e-5, {}),
    ("exp.run", "dlqa exp run", "exp.seed_variance", 0.02,
     {"exp": {"group": {"name": "cnn@base", "seeds": SEEDS}}}),
    ("release", "dlqa release record 1.0.0", "exp.release_regression", 0.0,
     {"release": {"version": "1.0.0", "metrics": {"accuracy": [0.90, 0.91, 0.92]}}}),
    ("train.monitor", "python train.py", "train.loss_spikes", 0.0,
     {"monitor": {"steps": 40, "epochs": 2, "findings": [],
                  "losses": [2.3 / (1 + step / 8) for step in range(40)],
                  "grad_norms": [1.0 / (1 + step / 20) for step in range(40)]}}),
)  # fmt: skip


def _record_stage_runs(project: UiProject) -> None:
    with project.open_store() as store:
        for kind, command, check_id, value, report in STAGE_RUNS:
            run_id = store.start_run(kind, command, {}, {"user": "tester", "host": "ci"})
            result = CheckResult(check_id=check_id, status="pass", value=value, n=120,
                                 interval=Interval(value * 0.9, value * 1.1) if value else None,
                                 subject=PARITY_VARIANT if kind == "deploy.check" else None,
                                 summary=f"{check_id} within its gate")  # fmt: skip
            store.add_results(run_id, [result])
            if report:
                store.set_report_parts(run_id, report)
            store.finish_run(run_id, "finished", 0)
            project.stage_runs[kind] = run_id


def _note_ids(project: UiProject) -> None:
    with project.open_store() as store:
        project.profile_run = min(r.id for r in store.list_runs("data.profile"))
        project.agreement_run = max(r.id for r in store.list_runs("labels.agreement"))
        project.check_run = max(r.id for r in store.list_runs("check"))
        project.snapshots = sorted(s.id for s in store.list_snapshots())
        review = store.list_review_samples()[0]
        project.review_id, project.source = review.id, review.source
