"""A team on one store: two people, each in a clone of their own, run seed groups of the same
name and profile the same dataset at the same time, against one PostgreSQL database and one
shared artifact root. Both land side by side, each run naming who ran it and where."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dlqa.exp.groups import SeedGroup, group_names, group_runs, stored_in
from dlqa.store import open_store
from tests.e2e.conftest import scene_folders
from tests.e2e.test_cli_exp import TRAIN, commit_all, git

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DLQA = [str(Path(sys.executable).parent / "dlqa")]
PEOPLE = ("alice", "bob")
SEEDS = 3
TRAIN_IMAGES, TEST_IMAGES = 4, 2  # per class, two classes


def clone_of(person: str, tmp_path: Path) -> Path:
    """A person's own working copy of the project (a git repository with the script)."""
    project = tmp_path / person / "project"
    project.mkdir(parents=True)
    (project / "train.py").write_text(TRAIN)
    (project / ".gitignore").write_text(".dlqa/\n")
    git(project, "init", "-q")
    commit_all(project, "init")
    return project


def environment_of(person: str, url: str, artifacts: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DLQA_DATABASE_URL": url,
        "DLQA_ARTIFACTS": str(artifacts),
        "USER": person,
        "LOGNAME": person,
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }


def test_two_people_run_groups_and_profiles_at_once_on_one_store(
    tmp_path: Path, postgres_url: str
) -> None:
    data = tmp_path / "shared-data"
    scene_folders(data, train=TRAIN_IMAGES, test=TEST_IMAGES)
    artifacts = tmp_path / "shared-artifacts"
    processes = []
    for person in PEOPLE:
        project = clone_of(person, tmp_path)
        environment = environment_of(person, postgres_url, artifacts, tmp_path)
        commands = [
            [*DLQA, "exp", "run", "base", "--seeds", str(SEEDS), "--workers", "1", "-q",
             "--", sys.executable, "train.py"],
            [*DLQA, "data", "profile", str(data), "-q", "-w", "1"],
        ]  # fmt: skip
        processes += [
            (person, command[1], subprocess.Popen(
                command, cwd=project, env=environment, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            ))
            for command in commands
        ]  # fmt: skip
    outcomes = {
        (person, what): (p.wait(timeout=600), p.stderr.read()) for person, what, p in processes
    }
    for (person, what), (code, errors) in outcomes.items():
        # A profile exits 1 when a data check finds something; anything else is a failure.
        assert code in ((0,) if what == "exp" else (0, 1)), (person, what, code, errors)

    with open_store(postgres_url, tmp_path, artifacts=artifacts) as store:
        runs = group_runs(store)
        profiles = store.list_runs(kind="data.profile")
        snapshots = store.list_snapshots()
        groups = [
            SeedGroup.from_dict(data, run_id=run.id)
            for run in group_names(runs)["base"]
            for data in stored_in(run)
        ]
        tables = [pq.read_table(store.artifacts.path(s.table_digest)) for s in snapshots]

    # Both groups called "base" are stored, each with its own seeds, nothing overwritten.
    assert len(groups) == 2 and len({g.run_id for g in groups}) == 2
    for group in groups:
        assert [(s.seed, s.status) for s in group.seeds] == [(s, "ok") for s in range(SEEDS)]
    # Who ran what, and where: the provenance of every run names its user and host.
    host = socket.gethostname()
    for kind_runs in (runs, profiles):
        assert sorted(r.provenance["user"] for r in kind_runs) == list(PEOPLE)
        assert {r.provenance["host"] for r in kind_runs} == {host}
    # Each person's seed logs are in their own clone, under their own run's id.
    for run in runs:
        project = tmp_path / run.provenance["user"] / "project"
        log = project / ".dlqa" / "exp" / "base" / f"run-{run.id}" / "seed-0" / "log.txt"
        assert log.read_text().startswith("seed 0: training")
    # Two snapshots of the same data, each table readable from the shared artifact root.
    assert len(snapshots) == 2 and {s.run_id for s in snapshots} == {r.id for r in profiles}
    n_images = 2 * (TRAIN_IMAGES + TEST_IMAGES)
    assert [table.num_rows for table in tables] == [n_images, n_images]
    assert tables[0].equals(tables[1])
