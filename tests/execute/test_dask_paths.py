"""Where Dask workers find the files: a worker started as its own process in a working directory
of its own, where the data's root is reached by a relative path (``worker_root``), as a worker
that mounts the shared file system elsewhere would; and one that cannot see the data at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dlqa.core.errors import UsageError
from dlqa.data.chunk_probe import worker_path
from dlqa.data.profile import profile_source
from dlqa.execute import LocalExecutor
from dlqa.sources.open import open_source
from tests.e2e.conftest import scene_folders

distributed = pytest.importorskip("distributed", reason="install the extra: dlqa[dask]")
from dlqa.execute.dask_executor import DaskExecutor  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="process groups of POSIX"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data, and a worker's own view of it: ``view/mounted`` links to the same folder."""
    base = tmp_path_factory.mktemp("shared")
    scene_folders(base / "data", train=4, test=2)
    (base / "view").mkdir()
    (base / "view" / "mounted").symlink_to(base / "data", target_is_directory=True)
    return base


@pytest.fixture(scope="module")
def address(shared: Path) -> Iterator[str]:
    """A scheduler, and one worker whose working directory is ``view``: a relative path
    resolves there for it, and nowhere this test process would look."""
    scheduler_file = shared / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    logs = [open(shared / f"{name}.log", "wb") for name in ("scheduler", "worker")]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            stdout=logs[0], stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
            start_new_session=True,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), (shared / "scheduler.log").read_text()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                 str(scheduler_file), "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard"],
                stdout=logs[1], stderr=subprocess.STDOUT, cwd=shared / "view", env=env,
                start_new_session=True,
            )
        )  # fmt: skip
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            yield client.scheduler.address
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for log in logs:
            log.close()


def test_worker_path_joins_the_relative_path_to_the_workers_root() -> None:
    assert worker_path("/data/x/a.png", None) == "/data/x/a.png"
    assert worker_path("/data/x/a.png", ("/data", "/mnt/shared")) == "/mnt/shared/x/a.png"
    assert worker_path("/data/x/a.png", ("/data", "mounted")) == "mounted/x/a.png"


def test_first_missing_path_is_asked_of_the_worker_itself(shared: Path, address: str) -> None:
    seen = str(shared / "data" / "train" / "cat" / "00.jpg")
    with DaskExecutor(address) as executor:
        # "mounted/..." exists only relative to the worker's working directory, not to ours.
        assert not Path("mounted/train/cat/00.jpg").exists()
        assert executor.first_missing_path([seen, "mounted/train/cat/00.jpg"]) is None
        missing = executor.first_missing_path([seen, "/nowhere/a.png", "/nowhere/b.png"])
    assert missing is not None
    assert missing[0] == "/nowhere/a.png"
    assert missing[1].startswith("tcp://127.0.0.1:")


def test_a_worker_reading_through_its_own_root_profiles_as_the_local_pool(
    shared: Path, address: str, tmp_path: Path
) -> None:
    source = open_source(shared / "data")
    with LocalExecutor(1) as local:
        expected = pq.read_table(
            profile_source(source, tmp_path / "local.parquet", executor=local, chunk_size=3).path
        )
    with DaskExecutor(address, worker_root="mounted") as executor:
        info = profile_source(source, tmp_path / "dask.parquet", executor=executor, chunk_size=3)
    table = pq.read_table(info.path)
    assert info.n_errors == 0
    # Value for value, and the paths are this machine's: the worker's view stays its own.
    assert table.equals(expected)
    assert table.column("path")[0].as_py().startswith(str(shared / "data"))


def test_workers_that_cannot_see_the_data_are_one_usage_error(
    shared: Path, address: str, tmp_path: Path
) -> None:
    source = open_source(shared / "data")
    first = next(iter(source)).sample_id  # the first file the profile would have read
    with (
        DaskExecutor(address, worker_root="not-mounted") as executor,
        pytest.raises(UsageError) as caught,
    ):
        profile_source(source, tmp_path / "p.parquet", executor=executor, chunk_size=3)
    assert caught.value.message.startswith(
        f"the Dask workers cannot see the data: not-mounted/{first} is missing on worker "
        "tcp://127.0.0.1:"
    )
    assert str(shared / "data") in caught.value.hint
    assert not (tmp_path / "p.parquet").exists()


def test_the_cli_says_which_path_the_workers_cannot_see(
    shared: Path, address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dlqa data profile --worker-root`: exit 2 with the first missing path, no findings."""
    from tests.e2e.conftest import run_cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    data = str(shared / "data")
    common = ("data", "profile", data, "--executor", "dask", "--address", address, "--quiet")
    code, out, err = run_cli(*common, "--worker-root", "not-mounted")
    assert code == 2, out + err
    assert "the Dask workers cannot see the data: not-mounted/" in " ".join(err.split())
    code, out, err = run_cli(*common, "--worker-root", "mounted", "--json", "r.json")
    assert code in (0, 1), out + err  # profiled through the worker's own root
    code, _, err = run_cli("data", "profile", data, "--worker-root", "mounted", "--quiet")
    assert code == 2 and "--worker-root is for --executor dask" in err
