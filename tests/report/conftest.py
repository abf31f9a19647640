"""A hand-built report with every status and every evidence kind, over real image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.model import Report

XSS_LABEL = "<script>alert(1)</script>"
N_DARK_SAMPLES = 40
DARK_TOTAL = 340


def _write_image(path: Path, rng: np.random.Generator, size=(300, 400), mode="RGB") -> None:
    channels = 3 if mode == "RGB" else 4
    pixels = rng.integers(0, 256, size=(*size, channels), dtype=np.uint8)
    Image.fromarray(pixels, mode=mode).save(path)


@pytest.fixture
def image_paths(tmp_path: Path) -> dict[str, str]:
    """sample id -> path: JPEGs, a transparent PNG, a corrupt JPEG and a missing file."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    paths = {}
    for index in range(N_DARK_SAMPLES):
        path = folder / f"dark_{index:02d}.jpg"
        _write_image(path, rng)
        paths[path.name] = str(path)
    png = folder / "alpha.png"
    _write_image(png, rng, size=(64, 32), mode="RGBA")
    paths[png.name] = str(png)
    corrupt = folder / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    paths[corrupt.name] = str(corrupt)
    paths["gone.jpg"] = str(folder / "gone.jpg")
    return paths


@pytest.fixture
def full_report(image_paths: dict[str, str]) -> Report:
    dark_items = [
        {"id": "corrupt.jpg", "label": "cat", "value": None, "reason": "corrupt"},
        *(
            {"id": f"dark_{i:02d}.jpg", "label": XSS_LABEL, "value": 3.0 + i, "camera": "x"}
            for i in range(N_DARK_SAMPLES)
        ),
    ]
    pair_items = [
        {
            "ids": ["dark_00.jpg", "dark_01.jpg"],
            "labels": ["cat", "dog"],
            "distance": 2,
            "splits": ["train", "val"],
        },
        {"ids": ["alpha.png", "gone.jpg"], "labels": ["cat", "cat"], "distance": 0},
    ]
    group_items = [
        {"ids": [f"dark_{i:02d}.jpg" for i in range(10)], "labels": ["cat"] * 10},
        ["alpha.png", "dark_05.jpg"],  # the bare-list form a check may also produce
    ]
    table_rows = [
        {"label": "cat", "count": 120, "share": 0.9},
        {"label": "dog", "count": 3, "share": float("nan")},
    ]
    results = [
        CheckResult(
            "data.dark",
            Status.FAIL,
            f"{DARK_TOTAL} images are too dark",
            value=float("nan"),
            threshold=0.01,
            evidence=[Evidence("samples", dark_items, DARK_TOTAL, "darkest first")],
            details={"cutoff": np.float32(12.5), "ids": ("a", "b")},
        ),
        CheckResult(
            "data.near_duplicates",
            Status.WARN,
            "2 near-duplicate pairs",
            value=2.0,
            threshold=1.0,
            evidence=[Evidence("pairs", pair_items, 2)],
        ),
        CheckResult(
            "data.label_conflicts",
            Status.FAIL,
            "groups of identical images with different labels",
            value=float("inf"),
            threshold=None,
            evidence=[
                Evidence("groups", group_items, 2),
                Evidence("table", table_rows, 2),
                Evidence("parameters", [{"odd": [1, 2, {"x": None}]}, "plain"], 2),
            ],
        ),
        CheckResult(
            "data.sharpness",
            Status.ERROR,
            "check raised ZeroDivisionError: division by zero",
            details={
                "traceback": 'Traceback (most recent call last):\n  File "probe.py", line 7, '
                "in sharpness\nZeroDivisionError: division by zero\n"
            },
        ),
        CheckResult("data.class_balance", Status.PASS, "ratio 1.2 within 10", 1.2, 10.0),
        CheckResult("data.audio_rate", Status.SKIP, "no audio samples"),
    ]
    return Report(
        title="Dataset QA: demo",
        kind="data.profile",
        created_at="2024-05-01T12:00:00Z",
        results=results,
        exit_code=1,
        meta={
            "source": "/data/train",
            "n_samples": 1234,
            "fingerprint": "f00dfeed",
            "config": {"gates": {"data.dark": {"max_fraction": 0.01}}},
        },
        class_counts={"train": {"cat": 120, "dog": 3}, "val": {"cat": 30}},
        properties={
            "brightness": [float(v) for v in np.linspace(0, 255, 200)] + [float("nan")],
            "width": [400.0] * 50,
            "empty": [],
        },
        sample_paths=image_paths,
    )
