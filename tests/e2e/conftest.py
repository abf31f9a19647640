"""Real files on disk and the real CLI entry point."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlqa.cli import main


def scene(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A smooth, colourful, structured image; different seeds give unrelated images."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(1, 6, 2).tolist() + [rng.uniform(0, 6.28)]
        channels.append(np.sin(fx * 6.28 * x + phase) * np.cos(fy * 6.28 * y))
    img = (np.stack(channels, axis=-1) * 0.5 + 0.5) * 200 + 25
    for _ in range(4):  # a few rectangles so that structure differs a lot between seeds
        x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
        img[y0 : y0 + rng.integers(10, 50), x0 : x0 + rng.integers(10, 60)] = rng.uniform(0, 255, 3)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def scene_folders(root: Path, train: int, test: int) -> None:
    """Real-looking JPEG scenes in ``root``/{train,test}/{cat,dog}, ``train`` and ``test``
    images per class, each from its own seed."""
    seed = 0
    for split, n in (("train", train), ("test", test)):
        for label in ("cat", "dog"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                seed += 1
                scene(seed).save(folder / f"{i:02d}.jpg", quality=90)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """train/test class folders with one of each problem planted (ids noted per test)."""
    root = tmp_path / "data"
    scene_folders(root, train=12, test=4)
    # Planted problems.
    (root / "train/cat/truncated.jpg").write_bytes((root / "train/cat/00.jpg").read_bytes()[:600])
    scene(1000).save(root / "train/dog/really_png.jpg", format="PNG")
    Image.new("RGB", (160, 120), (3, 3, 4)).save(root / "train/dog/dark.png")
    shutil.copy(root / "train/cat/01.jpg", root / "test/cat/leaked.jpg")
    return root


# `dlqa` as a real subprocess of this interpreter (for signals, concurrency, installed plugins).
DLQA = [sys.executable, "-c", "import sys; from dlqa.cli import main; sys.exit(main())"]


def noise_pngs(root: Path, n: int, classes: int = 4, seed: int = 0) -> None:
    """``n`` small random 32x32 PNGs in ``classes`` class folders (c0, c1, ...)."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        folder = root / f"c{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n // classes):
            pixels = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run `dlqa ARGS` in-process; returns (exit code, stdout, stderr)."""
    import contextlib

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        from dlqa.cli import common

        common.stdout.file = out
        common.stderr.file = err
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def image_check_count() -> int:
    """How many data checks a plain image profile runs (the others apply to audio or text, or
    need an input a plain profile lacks: a drift reference, review verdicts)."""
    from dlqa.core.registry import all_specs

    return sum(spec.applies_to("image") and not spec.needs for spec in all_specs("data"))
