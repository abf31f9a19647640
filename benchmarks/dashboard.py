"""How long each dashboard page takes over a store holding a million samples, on SQLite and on
PostgreSQL.

The store holds two snapshots of one source, each with a per-sample table of ``--samples``
rows written as the profile writes them (the image profile's schema, row groups of 2,048 rows;
the wide binary columns no page shows are left null to keep the build short), the second
with samples added, removed, relabelled and edited; ``--runs`` runs of the kinds the stages
store, with results whose evidence names samples; thumbnails; review samples with verdicts,
and adjudications.

Each page (every path of the navigation, a run page, a snapshot page at page 1 and at a late
page, the same page filtered to the unreadable samples, the diff page and an artifact) is
fetched with starlette's TestClient: once to warm up, then ``--repeat`` times; the figure is the
median. The diff page's first request computes the diff and keeps it (see
``dlqa.ui.data_views``): its time is printed apart. PostgreSQL is a throwaway server started
the way the tests start theirs (tests/pg.py), fsync off (only reads are timed).

    python benchmarks/dashboard.py [--samples 1000000] [--runs 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.modalities import get_modality, profile_schema
from dlqa.store import Store, open_store
from dlqa.ui import UiSettings, create_app
from dlqa.ui.web import NAVIGATION

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300
ROWS_PER_GROUP = 2048  # as dlqa.data.profile writes per-sample tables
SOURCE = "/datasets/photos"
RUN_KINDS = ("data.profile", "model.eval", "train.monitor", "deploy.smoke", "exp.run",
             "exp.compare", "release", "data.drift", "check", "labels.agreement")  # fmt: skip
STATUSES = (Status.PASS,) * 6 + (Status.WARN, Status.FAIL, Status.SKIP, Status.INCONCLUSIVE)
PROPERTIES = ("width", "height", "brightness", "contrast", "sharpness", "entropy")


def postgres_helper() -> ModuleType:
    """tests/pg.py, the throwaway server of the test suite."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tests.pg

    return tests.pg


# -- the per-sample tables ---------------------------------------------------------------


def sample_columns(n: int, seed: int) -> dict[str, Any]:
    """Columns of ``n`` samples: ids, labels of 100 classes, splits, hashes, measured
    properties, and about one unreadable sample in a thousand."""
    rng = np.random.default_rng(seed)
    labels = np.sort(rng.integers(0, 100, n))  # listed as a folder source lists: in id order
    ids = [f"class_{label:03d}/img_{i:07d}.jpg" for i, label in enumerate(labels)]
    errors = np.where(rng.random(n) < 0.001, "corrupt", None)
    return {
        "sample_id": ids,
        "index": np.arange(n),
        "label": [f"class_{label:03d}" for label in labels],
        "split": np.array(["train", "val", "test"])[rng.choice(3, n, p=[0.8, 0.1, 0.1])],
        "file_size": rng.integers(20_000, 400_000, n),
        "error": errors,
        "sha256": [hashlib.sha256(sample_id.encode()).hexdigest() for sample_id in ids],
        "width": rng.choice([224, 256, 512, 640], n).astype(np.int32),
        "height": rng.choice([224, 256, 480, 512], n).astype(np.int32),
        **{name: rng.gamma(4.0, 20.0, n).astype(np.float32) for name in PROPERTIES[2:]},
    }


def changed_columns(columns: dict[str, Any], seed: int) -> dict[str, Any]:
    """The next version of a dataset: 0.1% removed, as many added, 0.5% relabelled, 0.2%
    edited."""
    rng = np.random.default_rng(seed)
    n = len(columns["sample_id"])
    keep = rng.random(n) >= 0.001
    strings = ("sample_id", "label", "sha256", "error", "split")
    new = {
        name: np.asarray(values, dtype=object if name in strings else None)[keep]
        for name, values in columns.items()
    }
    relabel = rng.random(len(new["label"])) < 0.005
    new["label"][relabel] = "class_999"
    edited = rng.random(len(new["sha256"])) < 0.002
    new["sha256"][edited] = "0" * 64
    added = sample_columns(n - int(keep.sum()), seed + 1)
    added["sample_id"] = [f"added/{sample_id}" for sample_id in added["sample_id"]]
    return {name: np.concatenate([new[name], np.asarray(added[name])]) for name in new}


def write_table(path: Path, columns: dict[str, Any]) -> Path:
    schema = profile_schema(get_modality("image"), [])
    n = len(columns["sample_id"])
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type)
        for f in schema
    ]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, row_group_size=ROWS_PER_GROUP)
    return path


# -- the store ---------------------------------------------------------------------------


def results_for(kind: str, ids: list[str], rng: np.random.Generator) -> list[CheckResult]:
    results = []
    for number in range(10):
        status = STATUSES[int(rng.integers(len(STATUSES)))]
        flagged = [ids[int(i)] for i in rng.integers(0, len(ids), 20)]
        evidence = [Evidence("samples", [{"id": i, "score": 0.9} for i in flagged], 20 + number)]
        results.append(
            CheckResult(
                check_id=f"{kind.split('.')[0]}.check_{number}",
                status=status,
                summary=f"{kind}, check {number}: {len(flagged)} samples flagged",
                value=float(rng.random()),
                threshold=0.5,
                n=len(ids),
                evidence=evidence,
                details={"bins": [int(b) for b in rng.integers(0, 100, 10)]},
            )
        )
    return results


def add_profile_run(store: Store, table: Path, n: int, ids: list[str], seed: int) -> int:
    rng = np.random.default_rng(seed)
    run_id = store.start_run("data.profile", f"dlqa data profile {SOURCE}", {})
    store.add_results(run_id, results_for("data.profile", ids, rng))
    jpeg = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
    thumbnails = {ids[i]: store.artifacts.put_bytes(jpeg + bytes([i % 256]), "image/jpeg")
                  for i in range(0, 200, 4)}  # fmt: skip
    store.set_report_parts(run_id, {"title": "Data QA", "thumbnails": thumbnails})
    store.finish_run(run_id, "finished", 0)
    digest = store.artifacts.put_file(table, "application/vnd.apache.parquet")
    summary = {"n_samples": n, "n_errors": n // 1000, "modality": "image",
               "properties": {name: None for name in PROPERTIES}}  # fmt: skip
    return store.add_snapshot(run_id, SOURCE, f"sha256:{seed:064x}", n, digest, summary)


def add_reviews(store: Store, snapshot_id: int, ids: list[str]) -> tuple[list[str], int | None]:
    """Review samples with verdicts and adjudications, where the store has them; the names of
    what it lacks, and the last review's id."""
    skipped, review_id = [], None
    if hasattr(store, "add_review_sample") and hasattr(store, "add_verdicts"):
        from dlqa.store.reviews import NewVerdict

        for review in range(20):
            items = [{"id": ids[review * 100 + i], "label": "class_001", "random": True,
                      "flagged_by": []} for i in range(100)]  # fmt: skip
            review_id = store.add_review_sample(
                snapshot_id, seed=review, size=100, strata="label", allocation={}, items=items
            )
            verdicts = [NewVerdict(item["id"], "ok", "class_001") for item in items[:60]]
            store.add_verdicts(review_id, verdicts, reviewer="bench")
    else:
        skipped.append("review samples and verdicts")
    if hasattr(store, "add_adjudication"):
        for item in range(500):
            store.add_adjudication(SOURCE, f"item-{item}", "class_002", adjudicator="bench")
    else:
        skipped.append("adjudications")
    return skipped, review_id


def populate(store: Store, tables: tuple[Path, Path], n: int, runs: int) -> dict[str, Any]:
    """Both snapshots, ``runs`` more runs and the reviews; what the pages need to name."""
    ids = pq.read_table(tables[0], columns=["sample_id"]).column(0).slice(0, 5000).to_pylist()
    old = add_profile_run(store, tables[0], n, ids, 1)
    rng = np.random.default_rng(7)
    last_run = 0
    for run in range(runs):
        kind = RUN_KINDS[run % len(RUN_KINDS)]
        last_run = store.start_run(kind, f"dlqa {kind}", {"n": run})
        store.add_results(last_run, results_for(kind, ids, rng))
        store.finish_run(last_run, "finished", 0)
    new = add_profile_run(store, tables[1], n, ids, 2)
    skipped, review = add_reviews(store, new, ids)
    thumbnail = next(
        iter(store.get_run(store.get_snapshot(new).run_id).report["thumbnails"].values())
    )
    return {"old": old, "new": new, "run": last_run, "artifact": thumbnail, "skipped": skipped,
            "review": review, "review_item": ids[19 * 100 + 80]}  # fmt: skip


# -- timing ------------------------------------------------------------------------------


def page_paths(named: dict[str, Any], n: int) -> list[str]:
    late = max(1, n // 50 - 10)
    return [path for path, _ in NAVIGATION] + [
        f"/runs/{named['run']}",
        f"/data/snapshots/{named['new']}",
        f"/data/snapshots/{named['new']}?page={late}",
        f"/data/snapshots/{named['new']}?flag=errors&page=10",
        f"/data/snapshots/{named['new']}?check=data.check_3",
        f"/data/diff?a={named['old']}&b={named['new']}",
        f"/data/diff?a={named['old']}&b={named['new']}&change=label&page=20",
        f"/artifacts/{named['artifact']}",
        *([f"/review/{named['review']}"] if named["review"] else []),
    ]


def time_verdicts(store: Store, named: dict[str, Any], repeat: int) -> dict[str, Any]:
    """A reviewer's keystroke: one verdict saved (POST), the queue's estimate recomputed."""
    from starlette.testclient import TestClient

    path = f"/api/review/{named['review']}/verdicts"
    body = {"sample_id": named["review_item"], "verdict": "ok"}
    times, status = [], 0
    with TestClient(create_app(UiSettings(store=store)), raise_server_exceptions=False) as client:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            status = client.post(path, json=body).status_code
            times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times[1:]), "first_ms": times[0], "status": status}


def time_pages(store: Store, paths: list[str], repeat: int) -> dict[str, dict[str, Any]]:
    from starlette.testclient import TestClient

    figures: dict[str, dict[str, Any]] = {}
    # A page that fails is timed and reported by its status, not a crash of the benchmark.
    app = create_app(UiSettings(store=store))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in paths:
            started = time.perf_counter()
            status = client.get(path).status_code  # the warm-up
            first = (time.perf_counter() - started) * 1000
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                status = client.get(path).status_code
                times.append((time.perf_counter() - started) * 1000)
            figures[path] = {"median_ms": statistics.median(times), "first_ms": first,
                             "status": status}  # fmt: skip
    return figures


def bench_database(name: str, url: str, project: Path, tables: tuple[Path, Path],
                   args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    store = open_store(url, project_dir=project)
    try:
        started = time.perf_counter()
        named = populate(store, tables, args.samples, args.runs)
        built = time.perf_counter() - started
        skipped = ", ".join(named["skipped"]) or "nothing"
        print(f"{name:<10} store built in {built:.1f} s ({args.runs:,} runs, "
              f"{args.runs * 10 + 20:,} results); skipped: {skipped}")  # fmt: skip
        figures = time_pages(store, page_paths(named, args.samples), args.repeat)
        if named["review"]:
            figures["POST /api/review/N/verdicts"] = time_verdicts(store, named, args.repeat)
    finally:
        store.close()
    for path, f in figures.items():
        flag = "" if f["median_ms"] < TARGET_MS else "  OVER TARGET"
        print(f"{name:<10} {path[:60]:<60} {f['status']}  median {f['median_ms']:7.1f} ms  "
              f"(first {f['first_ms']:8.1f} ms){flag}")  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3000, help="runs besides the two profiles")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()

    pages: dict[str, Any] = {}
    first_diff: dict[str, float] = {}
    statuses: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="dlqa-dashboard-") as temp:
        folder = Path(temp)
        started = time.perf_counter()
        columns = sample_columns(args.samples, 1)
        tables = (write_table(folder / "old.parquet", columns),
                  write_table(folder / "new.parquet", changed_columns(columns, 2)))  # fmt: skip
        del columns
        print(
            f"tables of {args.samples:,} samples written in {time.perf_counter() - started:.1f} s"
        )
        databases = {"sqlite": lambda project: f"sqlite:///{(project / 'dlqa.db').as_posix()}"}
        server = None
        if not args.sqlite_only:
            pg = postgres_helper()
            try:
                server = pg.start_server()
                databases["postgresql"] = lambda _project: server.create_database("dash")
            except pg.ServerUnavailable as exc:
                print(f"{'postgresql':<10} skipped: {exc}")
        try:
            for name, new_url in databases.items():
                project = folder / name
                project.mkdir()
                figures = bench_database(name, new_url(project), project, tables, args)
                pages[name] = {path: round(f["median_ms"], 1) for path, f in figures.items()}
                statuses[name] = {path: f["status"] for path, f in figures.items()}
                diffs = [
                    f["first_ms"] for path, f in figures.items() if path.startswith("/data/diff")
                ]
                first_diff[name] = round(diffs[0], 1)
        finally:
            if server is not None:
                server.stop()
    ok = all(ms < TARGET_MS for figures in pages.values() for ms in figures.values()) and all(
        status < 500 for codes in statuses.values() for status in codes.values()
    )
    print(json.dumps({"benchmark": "dashboard", "samples": args.samples, "runs": args.runs,
                      "pages": pages, "first_diff_request_ms": first_diff,
                      "target_ms": TARGET_MS, "ok": ok}))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
