"""Claim: profiling on a Dask cluster costs little against the local pool on the same cores.

Profiles the same folder of images (by default the 10,000 photo-like 600-1200 px JPEGs that
``image_profile.py`` builds and caches in benchmarks/_data; ``--data DIR`` for another) with
``profile_source`` on two executors of the same number of worker processes, in one run:

(a) the local pool (``LocalExecutor(workers)``);
(b) a Dask ``LocalCluster`` of as many single-threaded worker processes
    (``DaskExecutor(workers=workers)``: the scheduler on loopback, results sent back to the
    client, which writes the Parquet table).

Both executors are started, timed apart (the cluster's start-up is reported on its own, never
in the images/s; the local pool starts its workers lazily, at its first task, so its start-up
reads about 0 and its workers' start falls in the warm-up), and warmed on a first block that
is not timed. The images then go in blocks,
each block profiled by both back to back, alternating which goes first, so that load from
other processes on a shared machine falls on both alike. Prints images/s of each, the ratio
Dask / local (target: >= 0.85), and whether the two per-sample tables are equal value for value.

Then, in a fresh process per backend, the whole folder is profiled in one go while the memory
of that process and all its descendants (pool workers; the Dask scheduler, nannies and
workers) is sampled: the peak of the tree and the client's own high-water mark (VmHWM), at a
quarter of the images and at all of them, to show the client does not hold the dataset.
Ends with one JSON line.

    python benchmarks/scale_out.py --images 10000
    python benchmarks/scale_out.py --images 2000 --blocks 2 --no-rss     # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from image_profile import DATA_ROOT, PathListSource, build_dataset, list_images
from scale_profile import TreeMemory, _children_by_parent

from dlqa.data.profile import profile_source
from dlqa.execute import LocalExecutor
from dlqa.execute.base import Executor

TARGET_RATIO = 0.85  # Dask within 15 % of the local pool


def start_executor(backend: str, workers: int) -> tuple[Executor, float]:
    """(the executor, seconds it took to start)."""
    began = time.perf_counter()
    if backend == "dask":
        from dlqa.execute.dask_executor import DaskExecutor

        executor: Executor = DaskExecutor(workers=workers)
    else:
        executor = LocalExecutor(workers)
    return executor, time.perf_counter() - began


def profile_block(
    executor: Executor, root: Path, paths: list[Path], out: Path, chunk_size: int
) -> float:
    began = time.perf_counter()
    profile_source(PathListSource(root, paths), out, executor=executor, chunk_size=chunk_size)
    return time.perf_counter() - began


def descendants(pid: int) -> set[int]:
    children, found, pending = _children_by_parent(), set(), [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (0 for one that has exited)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def differing_columns(left: pa.Table, right: pa.Table) -> list[str]:
    """The columns whose values differ (all of them when the shapes differ)."""
    if left.schema != right.schema or left.num_rows != right.num_rows:
        return sorted(set(left.column_names) | set(right.column_names))
    return [name for name in left.column_names if not left[name].equals(right[name])]


def compare_backends(root: Path, paths: list[Path], args: argparse.Namespace) -> dict:
    """Images/s of each backend over the same blocks, start-up times, and table equality.

    Also the CPU seconds each backend spends per block: this process (the client, and the
    Dask scheduler, which a LocalCluster runs in it) plus the processes the backend started
    (forkserver and pool workers; nannies and Dask workers). On a machine shared with other
    work, wall time swings with their load; CPU time per image much less so.
    """
    backends = ("local", "dask")
    seconds = dict.fromkeys(backends, 0.0)
    cpu = dict.fromkeys(backends, 0.0)
    own: dict[str, set[int]] = {}
    tables: dict[str, list[pa.Table]] = {name: [] for name in backends}
    executors, startup = {}, {}
    warm_up = paths[: 2 * args.workers * args.chunk_size]
    block_size = -(-len(paths) // args.blocks)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for name in backends:
                before = descendants(os.getpid())
                executors[name], startup[name] = start_executor(name, args.workers)
                profile_block(executors[name], root, warm_up, Path(scratch) / "w.parquet",
                              args.chunk_size)  # fmt: skip
                own[name] = {os.getpid()} | (descendants(os.getpid()) - before)
            for number, first in enumerate(range(0, len(paths), block_size)):
                block = paths[first : first + block_size]
                order = backends if number % 2 == 0 else backends[::-1]
                for name in order:
                    out = Path(scratch) / f"{name}_{number}.parquet"
                    cpu_before = cpu_seconds(own[name])
                    seconds[name] += profile_block(
                        executors[name], root, block, out, args.chunk_size
                    )
                    cpu[name] += cpu_seconds(own[name]) - cpu_before
                    tables[name].append(pq.read_table(out))
                print(
                    f"block {number}: local {seconds['local']:.1f}s "
                    f"dask {seconds['dask']:.1f}s (cumulative)",
                    file=sys.stderr,
                )
    finally:
        for executor in executors.values():
            executor.close()
    local, dask = (pa.concat_tables(tables[name]) for name in backends)
    return {
        "images_per_s": {name: len(paths) / seconds[name] for name in backends},
        "images_per_cpu_s": {name: len(paths) / cpu[name] for name in backends},
        "startup_s": startup,
        "differing_columns": differing_columns(local, dask),
        "n_errors": local.num_rows - local.column("error").null_count,
    }


# ---------------------------------------------------------------- memory in a fresh process


def rss_child(root: Path, n: int, backend: str, args: argparse.Namespace) -> None:
    """Run as a fresh process: profile the first ``n`` images with ``backend`` in one go."""
    paths = list_images(root)[:n]
    executor, _ = start_executor(backend, args.workers)
    with executor, tempfile.TemporaryDirectory() as scratch:
        profile_block(executor, root, paths, Path(scratch) / "p.parquet", args.chunk_size)


def peak_memory_mb(root: Path, n: int, backend: str, args: argparse.Namespace) -> dict:
    """Peak MB of the whole process tree and of the client alone, profiling ``n`` images."""
    command = [
        sys.executable, __file__, "--data", str(root), "--workers", str(args.workers),
        "--chunk-size", str(args.chunk_size), "--rss-child", f"{backend}:{n}",
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    with TreeMemory(process.pid) as memory:
        _, errors = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the {backend} memory run failed:\n{errors[-3000:]}")
    return {
        "tree": round(memory.peak_tree_kb / 1024, 1),
        "client": round(memory.peak_parent_kb / 1024, 1),
        "processes": memory.peak_processes,
    }


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="an existing folder of images to use")
    parser.add_argument("--images", type=int, default=10_000, help="images to profile")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks of images")
    parser.add_argument("--no-rss", action="store_true", help="skip the memory runs")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.rss_child is not None:
        backend, n = args.rss_child.split(":")
        rss_child(args.data, int(n), backend, args)
        return

    root = args.data
    if root is None:
        # The first N of image_profile.py's cached folder (10,000 unless more are asked for).
        n_built = max(args.images, 10_000)
        root = DATA_ROOT / f"image_profile_{n_built}"
        build_dataset(root, n_built, args.workers)
    paths = list_images(root)[: args.images]
    if not paths:
        raise SystemExit(f"no images found in {root}")
    for path in paths:  # both contenders then read from the page cache
        path.read_bytes()

    result = compare_backends(root, paths, args)
    rates = result["images_per_s"]
    ratio = rates["dask"] / rates["local"]
    equal = not result["differing_columns"]
    per_cpu = result["images_per_cpu_s"]
    print(
        f"{len(paths)} images, {args.workers} workers: local {rates['local']:.1f} images/s, "
        f"dask {rates['dask']:.1f} images/s, ratio {ratio:.3f} (target >= {TARGET_RATIO}); "
        f"per CPU second: local {per_cpu['local']:.1f}, dask {per_cpu['dask']:.1f} images, "
        f"ratio {per_cpu['dask'] / per_cpu['local']:.3f}; "
        f"start-up local {result['startup_s']['local']:.2f} s, "
        f"dask cluster {result['startup_s']['dask']:.2f} s; "
        f"per-sample tables equal: {equal}"
        + ("" if equal else f" (differ in {', '.join(result['differing_columns'])})"),
        file=sys.stderr,
    )

    memory: dict[str, dict[str, dict]] = {}
    if not args.no_rss:
        sizes = sorted({max(1, len(paths) // 4), len(paths)})
        for backend in ("local", "dask"):
            memory[backend] = {str(n): peak_memory_mb(root, n, backend, args) for n in sizes}
            for n, peak in memory[backend].items():
                print(
                    f"peak memory, {backend}, {n} images: tree {peak['tree']} MB over "
                    f"{peak['processes']} processes, client {peak['client']} MB",
                    file=sys.stderr,
                )

    print(
        json.dumps(
            {
                "benchmark": "scale_out",
                "n_images": len(paths),
                "workers": args.workers,
                "chunk_size": args.chunk_size,
                "blocks": args.blocks,
                "images_per_s_local": round(rates["local"], 1),
                "images_per_s_dask": round(rates["dask"], 1),
                "ratio_dask_vs_local": round(ratio, 3),
                "target_ratio": TARGET_RATIO,
                "images_per_cpu_s_local": round(per_cpu["local"], 1),
                "images_per_cpu_s_dask": round(per_cpu["dask"], 1),
                "cpu_ratio_dask_vs_local": round(per_cpu["dask"] / per_cpu["local"], 3),
                "startup_s_local": round(result["startup_s"]["local"], 2),
                "startup_s_dask_cluster": round(result["startup_s"]["dask"], 2),
                "tables_equal": equal,
                "differing_columns": result["differing_columns"],
                "n_errors": result["n_errors"],
                "peak_memory_mb": memory,
            }
        )
    )


if __name__ == "__main__":
    main()
