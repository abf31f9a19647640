"""Concurrent writers, on SQLite and on a real PostgreSQL server: no row lost or doubled.

Threads each open a store of their own (an engine and connections of their own, as separate
processes would) and start together at a barrier; the migration race uses real processes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dlqa.core.results import CheckResult, Status
from dlqa.store import RUN_FINISHED, Store, open_store
from tests.store.test_store_migrations import HEAD, revision_of

WRITERS = 4


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` for i in range(count), in threads that start at once; their results in
    order, or the first exception any of them raised."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            outcomes[index] = work(index)
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    if errors:
        raise errors[0]
    return outcomes


def result(writer: int, number: int) -> CheckResult:
    return CheckResult(
        check_id=f"load.w{writer}",
        subject=f"{number}",
        status=Status.PASS,
        summary=f"writer {writer}, result {number}",
        value=float(number),
    )


def positions(url: str, run_id: int) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT position FROM results WHERE run_id = :run ORDER BY position")
            return [row[0] for row in connection.execute(query, {"run": run_id})]
    finally:
        engine.dispose()


def test_writers_of_one_run_take_turns(store: Store, tmp_path: Path) -> None:
    """Each add_results reads the run's last position and appends after it; two writers
    reading the same last position would collide (PostgreSQL) or double a position."""
    run_id = store.start_run("check", "dlqa check", {})
    calls, per_call = 15, 2

    def write(writer: int) -> None:
        with open_store(store.url, project_dir=tmp_path) as own:
            for call in range(calls):
                batch = [result(writer, call * per_call + k) for k in range(per_call)]
                own.add_results(run_id, batch)

    run_together(WRITERS, write)

    total = WRITERS * calls * per_call
    assert positions(store.url, run_id) == list(range(total))
    stored = store.results_for_run(run_id)
    assert len({(r.check_id, r.subject) for r in stored}) == total
    for writer in range(WRITERS):  # each writer's results keep their order
        mine = [int(r.subject or 0) for r in stored if r.check_id == f"load.w{writer}"]
        assert mine == list(range(calls * per_call))


def test_writers_of_different_runs_never_collide(store: Store, tmp_path: Path) -> None:
    per_writer = 20

    def write(writer: int) -> int:
        with open_store(store.url, project_dir=tmp_path) as own:
            run_id = own.start_run("check", f"writer {writer}", {"writer": writer})
            for number in range(per_writer):
                own.add_results(run_id, [result(writer, number)])
            own.finish_run(run_id, RUN_FINISHED, 0)
            return run_id

    run_ids = run_together(WRITERS, write)

    assert len(set(run_ids)) == WRITERS
    for writer, run_id in enumerate(run_ids):
        assert store.get_run(run_id).config == {"writer": writer}
        assert positions(store.url, run_id) == list(range(per_writer))
        assert [r.subject for r in store.results_for_run(run_id)] == [
            str(n) for n in range(per_writer)
        ]
    assert sorted(r.id for r in store.list_runs()) == sorted(run_ids)


def test_report_parts_merged_at_once_are_all_kept(store: Store, tmp_path: Path) -> None:
    run_id = store.start_run("check", "dlqa check", {})
    rounds = 5

    def write(writer: int) -> None:
        with open_store(store.url, project_dir=tmp_path) as own:
            for number in range(rounds):
                own.set_report_parts(run_id, {f"w{writer}-{number}": number})

    run_together(WRITERS, write)

    expected = {f"w{w}-{n}": n for w in range(WRITERS) for n in range(rounds)}
    assert store.get_run(run_id).report == expected


def test_the_same_artifact_recorded_at_once_is_one_row(store: Store, tmp_path: Path) -> None:
    contents = [b"shared table", b"another shared table"]

    def write(_writer: int) -> list[str]:
        with open_store(store.url, project_dir=tmp_path) as own:
            return [own.artifacts.put_bytes(content) for content in contents]

    digests = run_together(WRITERS, write)

    assert all(found == digests[0] for found in digests)
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT digest FROM artifacts")).all()
    finally:
        engine.dispose()
    assert sorted(row[0] for row in rows) == sorted(digests[0])
    for digest, content in zip(digests[0], contents, strict=True):
        assert store.artifacts.path(digest).read_bytes() == content


def test_snapshots_written_at_once_are_all_kept(store: Store, tmp_path: Path) -> None:
    per_writer = 5

    def write(writer: int) -> list[int]:
        with open_store(store.url, project_dir=tmp_path) as own:
            run_id = own.start_run("data.profile", "dlqa data profile", {})
            ids = []
            for number in range(per_writer):
                # Writers share one table digest: the artifact row and the snapshots race.
                digest = own.artifacts.put_bytes(f"table {number}".encode())
                ids.append(own.add_snapshot(run_id, f"src{writer}", "fp", number, digest, {}))
            own.finish_run(run_id, RUN_FINISHED, 0)
            return ids

    ids = [i for batch in run_together(WRITERS, write) for i in batch]

    assert len(set(ids)) == WRITERS * per_writer
    assert sorted(s.id for s in store.list_snapshots()) == sorted(ids)
    for writer in range(WRITERS):
        assert len(store.list_snapshots(f"src{writer}")) == per_writer


def _open_fresh(url: str, project_dir: str, barrier: Any, outcomes: Any) -> None:
    """In a process of its own: open the store at once with the others; report how it went."""
    try:
        barrier.wait(timeout=120)
        with open_store(url, project_dir=project_dir) as opened:
            opened.start_run("check", "first run", {})
        outcomes.put("ok")
    except BaseException as exc:
        outcomes.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_fresh_database_at_once_all_succeed(
    database_url: str, tmp_path: Path
) -> None:
    """One migrates; the others wait for it (PostgreSQL: an advisory lock; SQLite: the
    write lock) and find the schema done instead of creating the tables a second time."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    outcomes = context.Queue()
    processes = [
        context.Process(target=_open_fresh, args=(database_url, str(tmp_path), barrier, outcomes))
        for _ in range(WRITERS)
    ]
    for process in processes:
        process.start()
    try:
        reports = [outcomes.get(timeout=180) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()

    assert reports == ["ok"] * WRITERS
    assert revision_of(database_url) == HEAD
    with open_store(database_url, project_dir=tmp_path) as opened:
        assert len(opened.list_runs()) == WRITERS
