"""DaskExecutor on real Dask services: a LocalCluster, and a scheduler plus two workers started
as separate processes on loopback. Order, bounded look-ahead, a worker killed mid-map, the
unreachable scheduler, and `dlqa data profile --executor dask` equal to the local profile."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dlqa.core.errors import UsageError
from dlqa.data.profile import profile_source
from dlqa.execute import LocalExecutor, WorkerDied, get_executor
from dlqa.sources.open import open_source
from dlqa.store import open_store
from tests.e2e.conftest import run_cli, scene_folders
from tests.execute.test_local_executor import CountingItems, fail_on_three, square_after_delay

distributed = pytest.importorskip("distributed", reason="install the extra: dlqa[dask]")
from dlqa.execute.dask_executor import DaskExecutor  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="signals of POSIX"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def kill_worker_once(task: tuple[int, str]) -> int:
    """On 3, SIGKILLs its own worker process the first time (the marker file says whether
    it has); the retry on another worker returns like every other item."""
    value, marker = task
    if value == 3 and not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return value * 2


def probe_killing_once(marker: str, task: Any) -> Any:
    """``probe_chunk``, but the third chunk SIGKILLs its worker the first time it runs."""
    from dlqa.data.profile import probe_chunk

    samples = task[0]
    if samples[0].sample_id.endswith("02.jpg") and not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return probe_chunk(task)


class KillingExecutor:
    """Runs ``probe_killing_once`` in place of the function a profile maps."""

    def __init__(self, inner: DaskExecutor, marker: str) -> None:
        self.inner, self.marker, self.workers = inner, marker, inner.workers

    def map(self, fn: Any, items: Any, **options: Any) -> Any:
        return self.inner.map(functools.partial(probe_killing_once, self.marker), items, **options)


def always_kill_on_two(value: int) -> int:
    if value == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Real images in train/test class folders, with a truncated JPEG and a leaked copy."""
    root = tmp_path / "data"
    scene_folders(root, train=6, test=3)
    (root / "train/cat/truncated.jpg").write_bytes((root / "train/cat/00.jpg").read_bytes()[:600])
    shutil.copy(root / "train/cat/01.jpg", root / "test/cat/leaked.jpg")
    return root


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[DaskExecutor]:
    with DaskExecutor(workers=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two single-threaded workers, each its own process group on loopback."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    # Workers unpickle the test functions by reference: they must import `tests`.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    common = {"cwd": REPO_ROOT, "env": env, "start_new_session": True}
    logs = [open(folder / f"{name}.log", "wb") for name in ("scheduler", "w1", "w2")]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            stdout=logs[0], stderr=subprocess.STDOUT, **common,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), (folder / "scheduler.log").read_text()
        for log in logs[1:]:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                     str(scheduler_file), "--nthreads", "1", "--host", "127.0.0.1",
                     "--no-dashboard"],
                    stdout=log, stderr=subprocess.STDOUT, **common,
                )
            )  # fmt: skip
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            yield client.scheduler.address
    finally:
        for proc in procs:  # each group: the nanny and the worker process it started
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for log in logs:
            log.close()


def test_local_cluster_maps_in_order_within_max_in_flight(local_cluster: DaskExecutor) -> None:
    assert local_cluster.workers == 2
    assert list(local_cluster.map(square_after_delay, range(12))) == [v * v for v in range(12)]
    items = CountingItems(30)
    consumed = 0
    for _ in local_cluster.map(abs, items, max_in_flight=3):
        consumed += 1
        assert items.pulled - consumed <= 3
    assert consumed == items.pulled == 30


def test_a_task_exception_propagates_and_the_executor_stays_usable(
    local_cluster: DaskExecutor,
) -> None:
    with pytest.raises(ValueError, match="three is not allowed"):
        list(local_cluster.map(fail_on_three, range(6)))
    assert list(local_cluster.map(abs, [-1, -2])) == [1, 2]


def test_a_task_that_keeps_killing_workers_becomes_worker_died(
    local_cluster: DaskExecutor,
) -> None:
    results = list(local_cluster.map(always_kill_on_two, range(5), on_worker_death="yield"))
    assert [r for i, r in enumerate(results) if i != 2] == [0, 1, 3, 4]
    assert isinstance(results[2], WorkerDied) and results[2].item == 2
    with pytest.raises(WorkerDied):
        list(local_cluster.map(always_kill_on_two, [1, 2, 3]))


def test_map_unordered_yields_each_item_with_its_outcome_as_it_finishes(
    local_cluster: DaskExecutor,
) -> None:
    outcomes = dict(local_cluster.map_unordered(always_kill_on_two, range(4)))
    assert sorted(outcomes) == [0, 1, 2, 3]
    assert {item: outcomes[item] for item in (0, 1, 3)} == {0: 0, 1: 1, 3: 3}
    assert isinstance(outcomes[2], WorkerDied) and outcomes[2].item == 2


def test_resources_no_worker_offers_are_a_usage_error_before_anything_runs(
    local_cluster: DaskExecutor,
) -> None:
    with pytest.raises(UsageError, match=r"no Dask worker offers GPU=1, .*\(2 worker\(s\); "
                       r"resources offered: none"):  # fmt: skip
        next(local_cluster.map_unordered(abs, [1], resources={"GPU": 1}))


def test_connects_by_address_and_survives_a_killed_worker(
    scheduler_address: str, tmp_path: Path
) -> None:
    marker = str(tmp_path / "killed-once")
    with get_executor(backend="dask", address=scheduler_address) as executor:
        assert executor.workers == 2
        tasks = [(value, marker) for value in range(10)]
        assert list(executor.map(kill_worker_once, tasks, max_in_flight=4)) == [
            v * 2 for v in range(10)
        ]
    assert os.path.exists(marker)  # a worker really was killed mid-map


def test_profile_with_dask_equals_the_local_profile(
    scheduler_address: str, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    runs = [
        ("-w", "2"),  # the local process pool
        ("--executor", "dask", "--address", scheduler_address),
        ("--executor", "dask", "-w", "2"),  # a LocalCluster started for the run
    ]
    for args in runs:
        code, out, err = run_cli("data", "profile", str(dataset), "-q", *args)
        assert code == 1, (args, out, err)  # the planted problems fail their gates
    store = open_store()
    snapshots = sorted(store.list_snapshots(), key=lambda snapshot: snapshot.id)
    assert len(snapshots) == 3
    local, *dask_tables = [pq.read_table(store.artifacts.path(s.table_digest)) for s in snapshots]
    assert local.num_rows == 20
    for table in dask_tables:
        assert table.schema == local.schema
        assert table.to_pylist() == local.to_pylist()  # value for value, in the same order


def test_a_worker_killed_mid_profile_leaves_the_profile_complete(
    scheduler_address: str, dataset: Path, tmp_path: Path
) -> None:
    source = open_source(dataset)
    marker = str(tmp_path / "killed-once")
    with DaskExecutor(scheduler_address) as executor:
        info = profile_source(
            source, tmp_path / "dask.parquet", executor=KillingExecutor(executor, marker),
            chunk_size=2,
        )  # fmt: skip
    assert os.path.exists(marker)  # a worker was killed while profiling
    local = profile_source(source, tmp_path / "local.parquet", executor=LocalExecutor(1))
    assert info.n_samples == local.n_samples == 20
    assert info.worker_deaths == []  # Dask ran the chunk again on the other worker
    expected = pq.read_table(local.path).to_pylist()
    assert pq.read_table(info.path).to_pylist() == expected


def test_an_unreachable_scheduler_is_a_usage_error_within_10_seconds() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(UsageError, match=address):
        DaskExecutor(address)
    assert time.monotonic() - started < 10


def test_cli_unreachable_scheduler_exits_2_with_one_message(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    address = f"tcp://127.0.0.1:{free_port()}"
    code, out, err = run_cli(
        "data", "profile", str(dataset), "-q", "--executor", "dask", "--address", address
    )
    assert code == 2, (out, err)
    assert err.count(address) == 1 and "Traceback" not in out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--executor", "spark"), "--executor"),
        (("--executor", "local", "--address", "tcp://127.0.0.1:1"), "--address"),
        (("--executor", "dask", "--address", "127.0.0.1:1"), "tcp://HOST:PORT"),
    ],
)
def test_bad_executor_options_exit_2(
    args: tuple[str, ...], message: str, dataset: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("data", "profile", str(dataset), "-q", *args)
    assert code == 2 and message in err, (out, err)


def test_execute_section_selects_dask_and_rejects_an_address_without_it() -> None:
    from dlqa.config import ExecuteConfig

    section = ExecuteConfig(backend="dask", address="tcp://10.0.0.1:8786")
    assert (section.backend, section.address) == ("dask", "tcp://10.0.0.1:8786")
    with pytest.raises(ValueError, match="backend"):
        ExecuteConfig(address="tcp://10.0.0.1:8786")


def test_importing_dlqa_execute_does_not_import_dask() -> None:
    code = "import sys, dlqa.execute, dlqa.cli.data; print('distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
