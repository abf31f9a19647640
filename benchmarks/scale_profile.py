"""Claim: `dlqa data profile` stays flat in memory and close to bare decoding at scale.

Builds (or reuses) N small images (32 x 32 PNG, train/val split folders holding 10 class
folders, each image a smooth random field with a gradient, a rectangle and fine noise, seeded
per batch so every run makes the same files), then for each size, in one run:

(a) bare Pillow: open + load every file, one worker process per core, in a process pool;
(b) dlqa end to end: ``dlqa data profile DIR --quiet --db sqlite:///TMP/s.db --report-dir
    TMP/reports`` as a subprocess (probing, snapshot, every data check, store, reports).

The page cache is warmed before either is timed. The peak resident memory of dlqa's whole
process tree (the command, the forkserver and its pool workers) is the largest sum of VmRSS
over the tree, sampled every 0.1 s from /proc (psutil when installed); the parent's own
high-water mark (VmHWM) is reported too. Targets: peak RSS grows by less than 1 KB per added
sample, and the whole command runs at >= 0.5x the bare decode rate. Ends with one JSON line.

    python benchmarks/scale_profile.py                      # 100,000 and 400,000 images
    python benchmarks/scale_profile.py --sizes 2000 8000    # a quick run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

DATA_ROOT = Path(__file__).resolve().parent / "_data" / "scale"
SIDE = 32
N_CLASSES = 10
BATCH = 500  # images generated per task (vectorised numpy, then one PNG write each)
DECODE_CHUNK = 256  # paths per bare-decode task (dlqa's default chunk size)
SAMPLE_SECONDS = 0.1
COMPLETE_MARKER = ".complete"


# ---------------------------------------------------------------- dataset


def image_path(root: Path, index: int) -> Path:
    split = "val" if index % 10 == 0 else "train"
    return root / split / f"class_{(index // 10) % N_CLASSES}" / f"img_{index:07d}.png"


def _upsampling(coarse: int, side: int) -> np.ndarray:
    """(side, coarse) bilinear interpolation weights from a coarse grid to ``side`` pixels."""
    positions = (np.arange(side) + 0.5) * coarse / side - 0.5
    positions = np.clip(positions, 0, coarse - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, coarse - 1)
    frac = positions - low
    weights = np.zeros((side, coarse))
    weights[np.arange(side), low] += 1 - frac
    weights[np.arange(side), high] += frac
    return weights


_SMOOTH = _upsampling(4, SIDE)
_FINE = _upsampling(8, SIDE)


def _upsample(coarse: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(count, 3, k, k) coarse grids to (count, 32, 32, 3) smooth fields."""
    return (weights @ coarse @ weights.T).transpose(0, 2, 3, 1)


def make_images(start: int, count: int) -> np.ndarray:
    """``count`` varied RGB images (count, 32, 32, 3) uint8, seeded by ``start``."""
    rng = np.random.default_rng([20240611, start])
    # Two octaves of smooth noise: the structure that perceptual hashes see.
    field = _upsample(rng.standard_normal((count, 3, 4, 4)), _SMOOTH)
    field += 0.5 * _upsample(rng.standard_normal((count, 3, 8, 8)), _FINE)
    field *= rng.uniform(25, 60, (count, 1, 1, 1))
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE - 0.5
    slope = rng.uniform(-60, 60, (count, 2, 1, 1))
    field += (slope[:, 0] * x + slope[:, 1] * y)[..., None]
    # One flat rectangle per image, in a colour of its own.
    corners = np.sort(rng.integers(0, SIDE + 1, (count, 2, 2)), axis=2)
    rows = (y[None, :, 0] + 0.5) * SIDE
    inside_y = (rows >= corners[:, 0, :1]) & (rows < corners[:, 0, 1:])
    inside_x = (rows >= corners[:, 1, :1]) & (rows < corners[:, 1, 1:])
    inside = inside_y[:, :, None] & inside_x[:, None, :]
    field += inside[..., None] * rng.uniform(-50, 50, (count, 1, 1, 3))
    field += rng.uniform(70, 180, (count, 1, 1, 3))  # base colour
    noise = rng.standard_normal(field.shape, dtype=np.float32)
    field += noise * rng.uniform(4, 10, (count, 1, 1, 1))
    return np.clip(np.rint(field), 0, 255).astype(np.uint8)


def write_batch(task: tuple[str, int, int]) -> int:
    root, start, count = task
    images = make_images(start, count)
    for offset in range(count):
        path = image_path(Path(root), start + offset)
        Image.fromarray(images[offset], "RGB").save(path, "PNG", compress_level=1)
    return count


def build_dataset(n: int, workers: int) -> Path:
    """The folder of ``n`` images, generated once and reused (a marker says it is complete)."""
    root = DATA_ROOT / str(n)
    if (root / COMPLETE_MARKER).exists():
        return root
    for split in ("train", "val"):
        for k in range(N_CLASSES):
            (root / split / f"class_{k}").mkdir(parents=True, exist_ok=True)
    tasks = [(str(root), start, min(BATCH, n - start)) for start in range(0, n, BATCH)]
    began = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for _ in pool.map(write_batch, tasks):
            pass
    (root / COMPLETE_MARKER).write_text(str(n))
    seconds = time.perf_counter() - began
    print(f"generated {n} images in {root} ({n / seconds:,.0f} images/s)", file=sys.stderr)
    return root


def all_paths(root: Path, n: int) -> list[str]:
    return [str(image_path(root, i)) for i in range(n)]


# ---------------------------------------------------------------- bare decode


def _read_chunk(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += len(handle.read())
    return total


def _decode_chunk(paths: list[str]) -> int:
    for path in paths:
        with Image.open(path) as image:
            image.load()
    return len(paths)


def _chunks(paths: list[str]) -> list[list[str]]:
    return [paths[i : i + DECODE_CHUNK] for i in range(0, len(paths), DECODE_CHUNK)]


def warm_page_cache(paths: list[str], workers: int) -> None:
    with ProcessPoolExecutor(workers) as pool:
        for _ in pool.map(_read_chunk, _chunks(paths)):
            pass


def bare_decode_rate(paths: list[str], workers: int) -> float:
    """Images/s of Pillow open + load over ``paths`` with ``workers`` processes (pool start
    included, as dlqa's time includes its own)."""
    began = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for _ in pool.map(_decode_chunk, _chunks(paths)):
            pass
    return len(paths) / (time.perf_counter() - began)


# ---------------------------------------------------------------- memory of a process tree


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields resume after the last ")".
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory:
    """Samples the resident memory of a process and all its descendants in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_tree_kb = 0
        self.peak_parent_kb = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        try:
            import psutil  # noqa: F401  (optional; /proc is used without it)

            self._psutil = True
        except ImportError:
            self._psutil = False

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        children = _children_by_parent()
        tree, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            tree.append(pid)
            pending.extend(children.get(pid, []))
        return tree

    def _sample(self) -> None:
        if self._psutil:
            import psutil

            try:
                root = psutil.Process(self.pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for process in processes:
                with contextlib.suppress(psutil.Error):  # it may have exited meanwhile
                    total += process.memory_info().rss // 1024
        else:
            processes = self._tree()
            total = sum(_status_kb(pid, "VmRSS:") for pid in processes)
        self.peak_tree_kb = max(self.peak_tree_kb, total)
        self.peak_processes = max(self.peak_processes, len(processes))
        self.peak_parent_kb = max(self.peak_parent_kb, _status_kb(self.pid, "VmHWM:"))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(SAMPLE_SECONDS)


# ---------------------------------------------------------------- dlqa end to end


def dlqa_command() -> list[str]:
    script = Path(sys.executable).parent / "dlqa"
    if script.exists():
        return [str(script)]
    found = shutil.which("dlqa")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from dlqa.cli import main; sys.exit(main())"]


def run_dlqa(root: Path, scratch: Path) -> tuple[float, int, TreeMemory, str]:
    """(seconds, exit code, memory monitor, output tail) of one `dlqa data profile` run."""
    command = [
        *dlqa_command(),
        "data",
        "profile",
        str(root),
        "--quiet",
        "--db",
        f"sqlite:///{scratch / 's.db'}",
        "--report-dir",
        str(scratch / "reports"),
    ]
    began = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=scratch
    )
    with TreeMemory(process.pid) as memory:
        output, _ = process.communicate()
    seconds = time.perf_counter() - began
    return seconds, process.returncode, memory, output[-2000:]


# ---------------------------------------------------------------- main


def measure(n: int, workers: int) -> dict[str, float]:
    root = build_dataset(n, workers)
    paths = all_paths(root, n)
    warm_page_cache(paths, workers)
    decode_rate = bare_decode_rate(paths, workers)
    with tempfile.TemporaryDirectory(prefix="dlqa-scale-") as scratch:
        seconds, code, memory, output = run_dlqa(root, Path(scratch))
    if code not in (0, 1):  # 1: a gate failed, which is a finding, not a broken run
        raise SystemExit(f"dlqa data profile exited {code} at n={n}:\n{output}")
    rate = n / seconds
    row = {
        "n": n,
        "seconds": seconds,
        "images_per_s": rate,
        "decode_images_per_s": decode_rate,
        "ratio_vs_decode": rate / decode_rate,
        "peak_rss_mb": memory.peak_tree_kb / 1024,
        "parent_peak_rss_mb": memory.peak_parent_kb / 1024,
        "exit_code": code,
    }
    print(
        f"n={n:>8,}: dlqa {seconds:7.1f} s = {rate:8,.0f} images/s | bare decode "
        f"{decode_rate:8,.0f} images/s | ratio {rate / decode_rate:5.2f} | peak RSS tree "
        f"{row['peak_rss_mb']:7.1f} MB ({memory.peak_processes} processes), parent "
        f"{row['parent_peak_rss_mb']:7.1f} MB | exit {code}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="bare-decode processes"
    )
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    rows = [measure(n, args.workers) for n in sizes]

    def growth(key: str) -> float | None:
        if len(rows) < 2 or sizes[-1] == sizes[0]:
            return None
        return (rows[-1][key] - rows[0][key]) * 1024 / (sizes[-1] - sizes[0])

    tree_growth, parent_growth = growth("peak_rss_mb"), growth("parent_peak_rss_mb")
    if tree_growth is not None:
        print(
            f"peak RSS growth: tree {tree_growth:.3f} KB/sample, parent "
            f"{parent_growth:.3f} KB/sample (target < 1)"
        )
    print(
        json.dumps(
            {
                "benchmark": "scale_profile",
                "sizes": sizes,
                "images_per_s": [round(r["images_per_s"], 1) for r in rows],
                "ratio_vs_decode": [round(r["ratio_vs_decode"], 3) for r in rows],
                "peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in rows],
                "rss_growth_kb_per_sample": None if tree_growth is None else round(tree_growth, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
