"""Results stored per second by concurrent writer processes, on SQLite and on PostgreSQL, and
whether every row arrived exactly once.

N writer processes (default 4) each store M results (default 2,000) through
``Store.add_results``, started together at a barrier: once in batches (default 100 results a
call) and once one result a call. Each writer alternates its calls between a run of its own
and one run that all writers share, so writers of the same run contend for its next
position and writers of different runs must not collide. The figure is all results divided by
the wall time from the barrier to the last writer's last commit. Afterwards the rows are
counted: every run holds exactly its results at positions 0..n-1, and no (writer, result)
pair is missing or doubled.

SQLite is a file in a temporary folder (WAL, the store's settings). PostgreSQL is a
throwaway server started the way the tests start theirs (tests/pg.py: Debian's postgresql,
127.0.0.1 only), with its default durability (fsync on), like SQLite's. Without a server
the PostgreSQL line says why it was skipped (with DLQA_REQUIRE_SERVICES=1 the script fails).

    python benchmarks/store_load.py [--writers 4] [--results 2000] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa

from dlqa.core.results import CheckResult, Status
from dlqa.store import open_store

ROOT = Path(__file__).resolve().parents[1]


def postgres_helper() -> ModuleType:
    """tests/pg.py, the throwaway server of the test suite."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tests.pg

    return tests.pg


def make_result(writer: int, number: int) -> CheckResult:
    return CheckResult(
        check_id=f"load.w{writer}",
        subject=str(number),
        status=Status.PASS if number % 7 else Status.WARN,
        summary=f"writer {writer}, result {number}: a sentence as long as a real summary",
        value=number / 1000,
        threshold=0.5,
        details={"writer": writer, "number": number, "bins": [1, 2, 3, 5, 8]},
    )


def write(
    url: str,
    project_dir: str,
    writer: int,
    runs: tuple[int, int],
    count: int,
    batch: int,
    barrier: Any,
    done: Any,
) -> None:
    """One writer process: ``count`` results in calls of ``batch``, alternating its own run
    and the shared one."""
    try:
        store = open_store(url, project_dir=project_dir)
        results = [make_result(writer, number) for number in range(count)]
        barrier.wait(timeout=300)
        for call, start in enumerate(range(0, count, batch)):
            store.add_results(runs[call % 2], results[start : start + batch])
        done.put((writer, None))
        store.close()
    except BaseException as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        done.put((writer, f"{type(exc).__name__}: {first_line}"[:300]))


def measure(url: str, project_dir: str, writers: int, count: int, batch: int) -> dict[str, Any]:
    """Results/s of ``writers`` processes storing ``count`` results each; rows checked."""
    with open_store(url, project_dir=project_dir) as store:  # migrated before the clock
        shared = store.start_run("check", "store_load shared", {})
        own = [store.start_run("check", f"store_load writer {w}", {}) for w in range(writers)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    done = context.Queue()
    processes = [
        context.Process(
            target=write,
            args=(url, project_dir, w, (own[w], shared), count, batch, barrier, done),
        )
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    errors = [error for _, error in (done.get(timeout=1800) for _ in processes) if error]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join(timeout=60)
    expected = expected_rows(writers, count, batch, own, shared)
    found, pairs = stored_rows(url)
    rows_ok = not errors and found == expected and pairs == writers * count
    return {
        "results": writers * count,
        "seconds": elapsed,
        "results_per_s": writers * count / elapsed,
        "rows_ok": rows_ok,
        "errors": errors[:3],
        "rows": sum(n for n, _, _, _ in found.values()),
    }


def expected_rows(
    writers: int, count: int, batch: int, own: list[int], shared: int
) -> dict[int, tuple[int, int, int, int]]:
    """Per run: (rows, distinct positions, first position, last position)."""
    calls = [min(batch, count - start) for start in range(0, count, batch)]
    mine = sum(calls[0::2])
    theirs = sum(calls[1::2]) * writers
    rows = {run: (mine, mine, 0, mine - 1) for run in own}
    rows[shared] = (theirs, theirs, 0, theirs - 1)
    return rows


def stored_rows(url: str) -> tuple[dict[int, tuple[int, int, int, int]], int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            per_run = connection.execute(
                sa.text(
                    "SELECT run_id, COUNT(*), COUNT(DISTINCT position), MIN(position), "
                    "MAX(position) FROM results GROUP BY run_id"
                )
            ).all()
            pairs = connection.scalar(
                sa.text("SELECT COUNT(*) FROM (SELECT DISTINCT check_id, subject FROM results) p")
            )
    finally:
        engine.dispose()
    return {row[0]: tuple(row[1:]) for row in per_run}, int(pairs or 0)


def bench_database(
    name: str, new_url: Any, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    modes = {f"batches_of_{args.batch}": args.batch, "one_at_a_time": 1}
    figures: dict[str, Any] = {}
    for mode, batch in modes.items():
        project = folder / f"{name}-{mode}"
        project.mkdir()
        figures[mode] = measure(new_url(project), str(project), args.writers, args.results, batch)
    parts = [
        f"{mode.replace('_', ' ')}: {f['results_per_s']:,.0f} results/s "
        f"({f['results']:,} in {f['seconds']:.2f} s)"
        for mode, f in figures.items()
    ]
    rows_ok = all(f["rows_ok"] for f in figures.values())
    rows = sum(f["rows"] for f in figures.values())
    verdict = "rows exact" if rows_ok else "ROWS WRONG"
    print(f"{name:<10} {args.writers} writers: " + "; ".join(parts) + f"; {rows:,} {verdict}")
    for mode, f in figures.items():
        for error in f["errors"]:
            print(f"{'':<10} {mode}: {error}")
    return {
        "results_per_s": {mode: round(f["results_per_s"], 1) for mode, f in figures.items()},
        "rows_ok": rows_ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--results", type=int, default=2000, help="results per writer")
    parser.add_argument("--batch", type=int, default=100, help="results per call in batches")
    args = parser.parse_args()

    databases: list[str] = []
    per_s: list[Any] = []
    rows_ok: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="dlqa-store-load-") as temp:
        folder = Path(temp)
        figures = bench_database(
            "sqlite", lambda project: f"sqlite:///{(project / 'dlqa.db').as_posix()}", folder, args
        )
        databases.append("sqlite")
        per_s.append(figures["results_per_s"])
        rows_ok.append(figures["rows_ok"])

        pg = postgres_helper()
        try:
            server = pg.start_server(durable=True)
        except pg.ServerUnavailable as exc:
            print(f"{'postgresql':<10} skipped: {exc}")
            if pg.services_required():
                return 1
        else:
            try:
                figures = bench_database(
                    "postgresql", lambda _project: server.create_database("load"), folder, args
                )
            finally:
                server.stop()
            databases.append("postgresql")
            per_s.append(figures["results_per_s"])
            rows_ok.append(figures["rows_ok"])

    print(
        json.dumps(
            {
                "benchmark": "store_load",
                "writers": args.writers,
                "results_per_writer": args.results,
                "databases": databases,
                "results_per_s": per_s,
                "rows_ok": rows_ok,
            }
        )
    )
    return 0 if all(rows_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
