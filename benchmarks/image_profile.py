"""Claim: profiling a folder of JPEGs with dlqa is at least as fast as merely decoding them.

Builds (or reuses) a folder of realistic 600-1200 px JPEGs, plus PNG and WebP copies of the
first ``--format-n`` of them (the same pixels re-encoded: PNG at Pillow's default level 6,
WebP lossy q90), then in one run, for each format, with the same number of worker processes:

(a) bare Pillow: read every file and decode it at full size (``Image.open(...).convert("RGB")``);
(b) dlqa: ``profile_source`` with every default probe (file hash and format, image properties,
    perceptual hash), writing the Parquet profile.

Both pools are started and warmed before timing; the images then go in blocks, each block run
by both back to back (alternating which goes first), so load from other processes on a shared
machine falls on both alike. Prints ``ratio_vs_decode`` = dlqa images/s / bare-decode
images/s per format (targets: JPEG >= 1.0, where the probe decodes at a reduced DCT scale;
PNG and WebP >= 0.8, which it must decode in full), and the peak resident memory of a fresh
profiling process plus its workers at two dataset sizes, to show that memory does not grow
with the dataset. Ends with one JSON line.

    python benchmarks/image_profile.py                 # 10,000 images cached in benchmarks/_data
    python benchmarks/image_profile.py --workers 1     # the ratios on one core
    python benchmarks/image_profile.py --data DIR      # an existing folder of images
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dlqa.data.profile import profile_source
from dlqa.execute import LocalExecutor
from dlqa.execute.local import limit_worker_threads, pool_context
from dlqa.sources.base import Sample

DATA_ROOT = Path(__file__).resolve().parent / "_data"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
N_CLASSES = 10


# ---------------------------------------------------------------- dataset


def draw_photo_like_image(seed: int) -> Image.Image:
    """A smooth, structured scene: colour gradient, filled shapes, lines, optional blur, noise."""
    rng = np.random.default_rng(seed)
    width, height = int(rng.integers(600, 1201)), int(rng.integers(600, 1201))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1)) / (width + height) + 0.5
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    gradient = start * (1 - t[..., None]) + end * t[..., None]
    image = Image.fromarray(np.clip(gradient, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 12))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [
            x0,
            y0,
            x0 + int(rng.integers(30, width // 2)),
            y0 + int(rng.integers(30, height // 2)),
        ]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = rng.integers(0, 3)
        if shape == 0:
            draw.ellipse(box, fill=colour)
        elif shape == 1:
            draw.rectangle(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=int(rng.integers(2, 12)))
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5))))
    noise = rng.standard_normal((height, width, 1), dtype=np.float32) * rng.uniform(1, 6)
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def write_image(task: tuple[int, str]) -> None:
    seed, path = task
    partial = path + ".partial"
    quality = 85 + seed % 11
    draw_photo_like_image(seed).save(partial, "JPEG", quality=quality)
    os.replace(partial, path)  # an interrupted build never leaves a half-written image


def image_path(folder: Path, index: int) -> Path:
    return folder / f"class_{index % N_CLASSES}" / f"img_{index:06d}.jpg"


def build_dataset(folder: Path, n: int, workers: int) -> None:
    """Create the missing images of ``folder`` (cached between runs)."""
    for k in range(N_CLASSES):
        (folder / f"class_{k}").mkdir(parents=True, exist_ok=True)
    missing = [
        (i, str(image_path(folder, i))) for i in range(n) if not image_path(folder, i).exists()
    ]
    if not missing:
        return
    print(f"generating {len(missing)} JPEGs in {folder} ...", file=sys.stderr)
    with (
        progress_bar(len(missing), "generating") as advance,
        ProcessPoolExecutor(workers, mp_context=pool_context()) as pool,
    ):
        for _ in pool.map(write_image, missing, chunksize=32):
            advance(1)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


class PathListSource:
    """A Source over a list of files; samples are built lazily while iterating."""

    kind = "folder"

    def __init__(self, root: Path, paths: list[Path]) -> None:
        self.root = str(root)
        self.paths = paths

    def __iter__(self) -> Iterator[Sample]:
        for index, path in enumerate(self.paths):
            relative = path.relative_to(self.root)
            yield Sample(
                sample_id=relative.as_posix(),
                index=index,
                path=str(path),
                label=relative.parts[0] if len(relative.parts) > 1 else None,
            )

    def __len__(self) -> int:
        return len(self.paths)


# ---------------------------------------------------------------- measurements


def progress_bar(total: int, description: str):  # -> context manager yielding advance(n)
    """A rich progress bar on a terminal; nothing when output goes to a pipe or file."""
    if not sys.stderr.isatty():
        return nullcontext(lambda n: None)
    from rich.progress import Progress

    class _Bar:
        def __enter__(self) -> Callable[[int], None]:
            self.progress = Progress(transient=True)
            self.progress.start()
            task = self.progress.add_task(description, total=total)
            return lambda n: self.progress.advance(task, n)

        def __exit__(self, *exc: object) -> None:
            self.progress.stop()

    return _Bar()


def decode_fully(path: str) -> int:
    """The baseline: read the file and decode every pixel."""
    with open(path, "rb") as handle:
        data = handle.read()
    with Image.open(io.BytesIO(data)) as image:
        image.convert("RGB")
    return len(data)


def decode_block(pool: ProcessPoolExecutor, paths: list[Path], chunk_size: int) -> float:
    """Seconds to read and fully decode ``paths`` with the bare process pool."""
    start = time.perf_counter()
    for _ in pool.map(decode_fully, [str(p) for p in paths], chunksize=chunk_size):
        pass
    return time.perf_counter() - start


def profile_block(
    executor: LocalExecutor, root: Path, paths: list[Path], out: Path, chunk_size: int
) -> tuple[float, int]:
    """Seconds for dlqa's ``profile_source`` over ``paths`` (Parquet written), and its errors."""
    start = time.perf_counter()
    info = profile_source(
        PathListSource(root, paths), out, executor=executor, chunk_size=chunk_size
    )
    return time.perf_counter() - start, info.n_errors


def compare_throughput(
    root: Path, paths: list[Path], workers: int, chunk_size: int, blocks: int
) -> tuple[float, float, int]:
    """(bare decode images/s, dlqa profile images/s, profile errors), measured side by side.

    Both pools are started and warmed first (worker start-up and imports are not timed for
    either). The images are then split into blocks and each block is run by both contenders
    back to back, alternating which goes first, so that load from other processes on the
    machine falls on both alike.
    """
    decode_seconds = profile_seconds = 0.0
    n_errors = 0
    block_size = -(-len(paths) // blocks)
    warm_up = paths[: 2 * workers * chunk_size]
    with (
        ProcessPoolExecutor(
            workers, mp_context=pool_context(), initializer=limit_worker_threads
        ) as pool,
        LocalExecutor(workers) as executor,
        tempfile.TemporaryDirectory() as scratch,
        progress_bar(2 * len(paths), "decode vs profile") as advance,
    ):
        decode_block(pool, warm_up, chunk_size)
        profile_block(executor, root, warm_up, Path(scratch) / "warm.parquet", chunk_size)
        for number, first in enumerate(range(0, len(paths), block_size)):
            block = paths[first : first + block_size]
            out = Path(scratch) / f"block_{number}.parquet"
            order = ("decode", "profile") if number % 2 == 0 else ("profile", "decode")
            for contender in order:
                if contender == "decode":
                    decode_seconds += decode_block(pool, block, chunk_size)
                else:
                    seconds, errors = profile_block(executor, root, block, out, chunk_size)
                    profile_seconds += seconds
                    n_errors += errors
                advance(len(block))
            print(
                f"block {number}: decode {decode_seconds:.1f}s "
                f"profile {profile_seconds:.1f}s (cumulative)",
                file=sys.stderr,
            )
    return len(paths) / decode_seconds, len(paths) / profile_seconds, n_errors


def high_water_mark_mb(_: object = None) -> tuple[int, float]:
    """(pid, peak resident memory in MB) of the calling process, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return os.getpid(), int(line.split()[1]) / 1024
    return os.getpid(), float("nan")


def slow_high_water_mark_mb(_: object) -> tuple[int, float]:
    time.sleep(0.2)  # long enough that every worker picks up one of these tasks
    return high_water_mark_mb()


def peak_rss_of_profile_run(root: Path, n: int, workers: int, chunk_size: int) -> float:
    """Run as a fresh process: profile the first ``n`` images, return parent + workers peak MB."""
    paths = list_images(root)[:n]
    with tempfile.TemporaryDirectory() as scratch, LocalExecutor(workers) as executor:
        profile_source(
            PathListSource(root, paths),
            Path(scratch) / "profile.parquet",
            executor=executor,
            chunk_size=chunk_size,
        )
        worker_peaks: dict[int, float] = {}
        if workers > 1:
            for pid, peak in executor.map(slow_high_water_mark_mb, range(workers * 4)):
                worker_peaks[pid] = max(peak, worker_peaks.get(pid, 0.0))
    parent_peak = high_water_mark_mb()[1]
    print(
        f"n={n}: parent peak {parent_peak:.1f} MB, workers {sorted(worker_peaks.values())} MB",
        file=sys.stderr,
    )
    return parent_peak + sum(worker_peaks.values())


def peak_rss_in_fresh_process(root: Path, n: int, workers: int, chunk_size: int) -> float:
    command = [
        sys.executable,
        __file__,
        "--data",
        str(root),
        "--workers",
        str(workers),
        "--chunk-size",
        str(chunk_size),
        "--rss-child",
        str(n),
    ]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    sys.stderr.write(result.stderr)
    return float(json.loads(result.stdout.strip().splitlines()[-1])["peak_rss_mb"])


def compare_format(
    root: Path, paths: list[Path], name: str, args: argparse.Namespace
) -> tuple[int, float, float, int]:
    """(images, bare decode images/s, dlqa images/s, errors) for ``paths`` re-encoded as
    ``name`` ("png", "webp"), the copies made once into a folder beside ``root``."""
    from _images import reencoded_copies  # here: the RSS child must not import matplotlib

    target = root.parent / f"{root.name}_{name}"
    print(f"{name} copies of {len(paths)} images in {target} ...", file=sys.stderr)
    with ProcessPoolExecutor(args.workers, mp_context=pool_context()) as pool:
        copies = reencoded_copies(paths, root, target, name.upper(), pool)
    for path in copies:  # both contenders then read from the page cache
        path.read_bytes()
    decode, profile, errors = compare_throughput(
        target, copies, args.workers, args.chunk_size, args.blocks
    )
    return len(copies), decode, profile, errors


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="an existing folder of images to use")
    parser.add_argument("--n", type=int, default=10_000, help="images to generate and profile")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks of images")
    parser.add_argument("--formats", default="png,webp", help="re-encoded copies to compare too")
    parser.add_argument("--format-n", type=int, default=1_000, help="images per copied format")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.rss_child is not None:
        peak = peak_rss_of_profile_run(args.data, args.rss_child, args.workers, args.chunk_size)
        print(json.dumps({"peak_rss_mb": round(peak, 1)}))
        return

    root = args.data
    if root is None:
        root = DATA_ROOT / f"image_profile_{args.n}"
        build_dataset(root, args.n, args.workers)
    paths = list_images(root)[: args.n]
    if not paths:
        raise SystemExit(f"no images found in {root}")
    for path in paths:  # both contenders then read from the page cache
        path.read_bytes()

    decode_rate, profile_rate, n_errors = compare_throughput(
        root, paths, args.workers, args.chunk_size, args.blocks
    )
    by_format = {"jpeg": (len(paths), decode_rate, profile_rate, n_errors)}
    for name in filter(None, args.formats.split(",")):
        by_format[name] = compare_format(root, paths[: args.format_n], name, args)
    for name, (count, decode, profile, errors) in by_format.items():
        print(
            f"{name}: {count} images, bare decode {decode:.1f}/s, dlqa profile {profile:.1f}/s"
            f" = {profile / decode:.3f}x ({errors} errors)",
            file=sys.stderr,
        )

    n_large = len(paths)
    n_small = max(1, n_large // 4)
    rss_small = peak_rss_in_fresh_process(root, n_small, args.workers, args.chunk_size)
    rss_large = peak_rss_in_fresh_process(root, n_large, args.workers, args.chunk_size)

    print(
        json.dumps(
            {
                "benchmark": "image_profile",
                "n_images": n_large,
                "workers": args.workers,
                "images_per_s": round(profile_rate, 1),
                "decode_images_per_s": round(decode_rate, 1),
                "ratio_vs_decode": round(profile_rate / decode_rate, 3),  # JPEG
                "n_errors": n_errors,
                "blocks": args.blocks,
                "peak_rss_mb_small": round(rss_small, 1),
                "peak_rss_mb_large": round(rss_large, 1),
                "n_small": n_small,
                "n_large": n_large,
                "ratio_vs_decode_by_format": {
                    name: round(profile / decode, 3)
                    for name, (_, decode, profile, _) in by_format.items()
                },
                "images_per_s_by_format": {
                    name: [round(decode, 1), round(profile, 1)]  # bare decode, dlqa profile
                    for name, (_, decode, profile, _) in by_format.items()
                },
                "n_by_format": {name: values[0] for name, values in by_format.items()},
                "n_errors_by_format": {name: values[3] for name, values in by_format.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
