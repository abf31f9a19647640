"""`dlqa exp run --executor dask`: each seed a task on a Dask worker of a LocalCluster whose
workers offer one GPU each, its command a subprocess of that worker in the project folder;
the records come back and are stored as the local runner stores them."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlqa.core.errors import UsageError
from dlqa.exp.launch import SeedJob, run_seeds_on_cluster
from tests.e2e.conftest import run_cli
from tests.e2e.test_cli_exp import commit_all, git, stored

distributed = pytest.importorskip("distributed", reason="install the extra: dlqa[dask]")
from dlqa.execute.dask_executor import DaskExecutor  # noqa: E402

pytestmark = pytest.mark.slow

# Prints the pid of the process that started it (a Dask worker's, or the local runner's), logs
# a metric from its seed; seed 1 fails when asked to.
SEED_SCRIPT = """\
import os
import sys

from dlqa.exp import current

run = current()
print(f"seed {run.seed}: started by {os.getppid()}", flush=True)
if "fail" in sys.argv[1:] and run.seed == 1:
    print("out of memory at step 3", flush=True)
    sys.exit(1)
run.log(accuracy=0.8 + run.seed / 100)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, set[int]]]:
    """(scheduler address, worker pids) of a LocalCluster: two processes, one GPU each. Its
    client is not the default one, as in dlqa, where no client is."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, resources={"GPU": 1},
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):  # fmt: skip
        yield local.scheduler_address, set(client.run(os.getpid).values())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (folder / "seed.py").write_text(SEED_SCRIPT)
    (folder / ".gitignore").write_text(".dlqa/\n")
    git(folder, "init", "-q")
    commit_all(folder, "init")
    return folder


def exp_run(name: str, address: str, *options: str) -> tuple[int, str, str]:
    return run_cli(
        "exp", "run", name, "--seeds", "3", "-q", "--executor", "dask", "--address", address,
        *options, "--", sys.executable, "seed.py",
    )  # fmt: skip


def started_by(log_tail: str) -> int:
    return int(log_tail.splitlines()[0].rsplit(" ", 1)[1])


def test_seeds_run_as_gpu_tasks_on_the_workers_and_are_stored(
    cluster: tuple[str, set[int]], project: Path
) -> None:
    address, worker_pids = cluster
    code, out, err = exp_run("base", address, "--gpus-per-seed", "1")
    assert code == 0, out + err
    group = stored("base")
    assert [(s.seed, s.status) for s in group.seeds] == [(0, "ok"), (1, "ok"), (2, "ok")]
    assert group.values("accuracy") == pytest.approx([0.80, 0.81, 0.82])
    # Each seed's process was started by a Dask worker, not by this process.
    assert {started_by(s.log_tail) for s in group.seeds} <= worker_pids
    assert all(s.cpu_s is not None and s.max_rss_mb for s in group.seeds)
    log = project / ".dlqa" / "exp" / "base" / f"run-{group.run_id}" / "seed-2" / "log.txt"
    assert log.read_text().startswith("seed 2: started by")


def test_without_an_address_the_seeds_run_on_a_local_cluster(project: Path) -> None:
    code, out, err = run_cli(
        "exp", "run", "local", "--seeds", "2", "-w", "2", "-q", "--executor", "dask", "--",
        sys.executable, "seed.py",
    )  # fmt: skip
    assert code == 0, out + err
    group = stored("local")
    assert [(s.seed, s.status) for s in group.seeds] == [(0, "ok"), (1, "ok")]
    # Started by the cluster's worker processes, not by this one (the local runner's parent).
    assert os.getpid() not in {started_by(s.log_tail) for s in group.seeds}


def test_a_failing_seed_on_a_worker_is_stored_with_its_log_tail(
    cluster: tuple[str, set[int]], project: Path
) -> None:
    code, out, err = run_cli(
        "exp", "run", "broken", "--seeds", "3", "-q", "--executor", "dask", "--address",
        cluster[0], "--", sys.executable, "seed.py", "fail",
    )  # fmt: skip
    assert code == 1, out + err
    group = stored("broken")
    assert [(s.seed, s.status) for s in group.seeds] == [(0, "ok"), (1, "failed"), (2, "ok")]
    assert group.seeds[1].reason == "exit code 1"
    assert "out of memory at step 3" in group.seeds[1].log_tail


def test_more_gpus_than_any_worker_offers_is_a_usage_error_not_a_hang(
    cluster: tuple[str, set[int]], project: Path
) -> None:
    code, out, err = exp_run("greedy", cluster[0], "--gpus-per-seed", "2")
    assert code == 2, out + err
    assert "no Dask worker offers GPU=2" in err and "resources offered: GPU=1" in err
    assert "greedy" not in run_cli("exp", "list")[1]


def test_gpus_per_seed_without_dask_is_a_usage_error(project: Path) -> None:
    code, out, err = run_cli(
        "exp", "run", "local", "--seeds", "1", "-q", "--gpus-per-seed", "1", "--",
        sys.executable, "seed.py",
    )  # fmt: skip
    assert code == 2, out + err
    assert "--gpus-per-seed is for seeds run on Dask workers" in err


def jobs_in(folder: Path, command: list[str], seeds: int = 2) -> list[SeedJob]:
    return [
        SeedJob(seed, command, folder, folder / "runs" / f"seed-{seed}", "g")
        for seed in range(seeds)
    ]


def test_a_seed_that_kills_its_workers_is_a_failed_seed_and_the_others_are_kept(
    tmp_path: Path,
) -> None:
    # Seed 1 SIGKILLs the Dask worker that started it, on every worker Dask retries it on.
    script = (
        "import os, signal\n"
        "from dlqa.exp import current\n"
        "run = current()\n"
        "if run.seed == 1:\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n"
        "run.log(accuracy=0.5)\n"
    )
    with DaskExecutor(workers=2) as cluster:
        records = run_seeds_on_cluster(cluster, jobs_in(tmp_path, [sys.executable, "-c", script]))
    assert [(r.seed, r.status) for r in records] == [(0, "ok"), (1, "failed")]
    assert records[0].metrics == {"accuracy": 0.5}
    assert records[1].reason.startswith("its Dask worker died")


def test_a_project_folder_the_workers_cannot_see_is_a_usage_error(
    cluster: tuple[str, set[int]], tmp_path: Path
) -> None:
    folder = tmp_path / "not-shared"
    with DaskExecutor(cluster[0]) as executor, pytest.raises(UsageError) as caught:
        run_seeds_on_cluster(executor, jobs_in(folder, [sys.executable, "-c", "pass"]))
    assert caught.value.message.startswith(
        f"the Dask workers cannot see the project folder: {folder} is missing on worker tcp://"
    )
