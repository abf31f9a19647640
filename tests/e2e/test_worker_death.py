"""Worker processes that die, and Ctrl-C, through the real CLI in a real process.

A worker killed by the file it reads (SIGSEGV, or an exit status, made by the profile's test
hook ``DLQA_TEST_CRASH_ON``) costs that one sample: it is an unreadable finding naming how the
worker died, every other sample is profiled, the run says that a worker died. A Ctrl-C sent to
the whole process group, as a terminal does, ends the run with one line and no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.e2e.conftest import DLQA, noise_pngs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="signals and process groups of POSIX"),
]
MARKED = "c2/crash_here.png"  # sorts last in c2: the middle one of three chunks of 256


def _small_pngs(root: Path, n: int, marked: str | None = None) -> None:
    noise_pngs(root, n)
    if marked is not None:
        Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(root / marked)


def _environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DLQA_TEST_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _runs(database: Path) -> list[tuple]:
    try:
        with sqlite3.connect(database) as connection:
            return connection.execute("SELECT id, status, exit_code FROM runs").fetchall()
    except sqlite3.Error:
        return []


CRASHES = [
    pytest.param({}, "signal 11 (SIGSEGV)", id="sigsegv"),
    pytest.param({"DLQA_TEST_CRASH_EXIT": "3"}, "exit status 3", id="exit-status"),
]


@pytest.mark.parametrize(("how", "reason"), CRASHES)
def test_a_worker_killed_by_a_file_costs_only_that_file(
    tmp_path: Path, how: dict[str, str], reason: str
) -> None:
    _small_pngs(tmp_path / "data", 600, marked=MARKED)
    process = subprocess.run(
        [*DLQA, "data", "profile", "data", "--workers", "2", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_environment(DLQA_TEST_CRASH_ON=MARKED, **how),
        timeout=300,
    )
    assert process.returncode in (0, 1), process.stderr  # a finding, never an internal error
    assert "Traceback" not in process.stderr
    assert _runs(tmp_path / ".dlqa" / "dlqa.db") == [(1, "finished", process.returncode)]

    report = json.loads((tmp_path / ".dlqa/reports/run-1/report.json").read_text())
    meta = report["meta"]
    assert meta["n_samples"] == 601
    unreadable = next(r for r in report["results"] if r["check_id"] == "data.unreadable")
    items = unreadable["evidence"][0]["items"]
    assert [item["id"] for item in items] == [MARKED]
    assert items[0]["reason"] == f"unreadable: a worker died while reading this file: {reason}"
    assert meta["worker_deaths"] == [
        {"sample_id": MARKED, "reason": reason, "outcome": "unreadable"}
    ]
    # The run's summary says that a worker died, so that neither the file nor dlqa hides it.
    assert any("a worker process died 1 time(s)" in note for note in meta["notes"])
    html = (tmp_path / ".dlqa/reports/run-1/report.html").read_text()
    assert "a worker process died 1 time(s)" in html

    # The stored profile table: every sample, the marked one a finding, the others profiled.
    digest = meta["table_artifact"]
    table_path = next(
        p for p in (tmp_path / ".dlqa/artifacts").rglob("*") if p.name in (digest, digest[2:])
    )
    rows = pq.read_table(table_path).to_pylist()
    assert len(rows) == 601 and [row["index"] for row in rows] == list(range(601))
    by_id = {row["sample_id"]: row for row in rows}
    assert by_id[MARKED]["error"] == "unreadable"
    assert by_id[MARKED]["error_detail"] == f"a worker died while reading this file: {reason}"
    others = [row for row in rows if row["sample_id"] != MARKED]
    assert all(row["error"] is None and row["brightness"] is not None for row in others)


PROFILE_SCRIPT = """
import json, sys
from pathlib import Path
from dlqa.data.profile import profile_source
from dlqa.execute import LocalExecutor
from dlqa.sources.open import open_source

if __name__ == "__main__":
    with LocalExecutor(2) as executor:
        info = profile_source(open_source(Path("data").resolve()), Path("p.parquet").resolve(),
                              executor=executor, chunk_size=64)
    print(json.dumps({"n_samples": info.n_samples, "worker_deaths": info.worker_deaths}))
"""


def test_profile_source_says_where_workers_died(tmp_path: Path) -> None:
    _small_pngs(tmp_path / "data", 200, marked=MARKED)
    (tmp_path / "profile_it.py").write_text(PROFILE_SCRIPT, encoding="utf-8")
    process = subprocess.run(
        [sys.executable, "profile_it.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_environment(DLQA_TEST_CRASH_ON=MARKED),
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout.splitlines()[-1])
    assert result == {
        "n_samples": 201,
        "worker_deaths": [
            {"sample_id": MARKED, "reason": "signal 11 (SIGSEGV)", "outcome": "unreadable"}
        ],
    }


def _live_members(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies left to init excluded)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            live.append(int(stat.parent.name))
    return live


def _ctrl_c_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_to_the_process_group_ends_the_profile_with_one_line(tmp_path: Path) -> None:
    _small_pngs(tmp_path / "data", 3000)
    process = subprocess.Popen(
        [*DLQA, "data", "profile", "data", "--workers", "2", "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # As a terminal starts it: a suite started in the background (`make test &`) runs
        # with SIGINT ignored, and a process that inherits that never sees Ctrl-C at all.
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )
    database = tmp_path / ".dlqa" / "dlqa.db"
    profiling = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        # The run is recorded, and the profile table is being written: the workers are busy.
        if _runs(database) and any((tmp_path / ".dlqa").rglob("*.parquet.partial")):
            profiling = True
            break
        time.sleep(0.005)
    assert profiling, "the profile was never seen running"
    # At once: a pause here lets a small profile end before the interrupt.
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if "interrupt" in line.lower()]
    assert len(said) == 1 and said[0].startswith("dlqa: interrupted"), err
    assert _runs(database) == [(1, "interrupted", 130)]
    if sys.platform == "linux":  # the workers (and the forkserver) are gone too
        deadline = time.monotonic() + 10
        while _live_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _live_members(process.pid) == []
