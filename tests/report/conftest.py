"""A hand-built report with every status and every evidence kind, over real image files.

Thumbnails and histograms are made the way the data stage makes them (``make_thumbnail``,
``histogram_bins``) so that the views are tested on what the store really holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.report.model import Report
from dlqa.report.plots import histogram_bins
from dlqa.report.thumbnails import make_thumbnail

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


def _thumbnails(paths: dict[str, str]) -> dict[str, bytes]:
    """What the data stage stores: a thumbnail for every file that decodes, none otherwise."""
    thumbnails = {}
    for sample_id, path in paths.items():
        try:
            thumbnails[sample_id] = make_thumbnail(path)
        except Exception:
            continue
    return thumbnails


# The undecided result of the report: a noisy accuracy whose interval straddles the threshold.
ACCURACY_VAL = CheckResult(
    "eval.accuracy",
    Status.INCONCLUSIVE,
    "accuracy 0.912 on 400 samples; about 1200 would decide",
    value=0.912,
    threshold=0.9,
    subject="val",
    n=400,
    interval=Interval(0.87, 0.94),
    details={"on_inconclusive": "fail"},
)
ACCURACY_TEST = CheckResult(
    "eval.accuracy",
    Status.PASS,
    "accuracy 0.95 clears 0.9",
    value=0.95,
    threshold=0.9,
    subject="test",
    n=1000,
    interval=Interval(0.93, 0.97),
)
CALIBRATION_OOD = CheckResult(
    "eval.calibration",
    Status.INCONCLUSIVE,
    "ECE 0.08 on 50 samples",
    value=0.08,
    threshold=0.05,
    subject="ood",
    n=50,
    interval=Interval(0.03, 0.12, level=0.9),
    details={"on_inconclusive": "warn"},
)


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
        ACCURACY_VAL,
        ACCURACY_TEST,
        CALIBRATION_OOD,
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
        histograms={
            name: bins
            for name, values in {
                "brightness": [float(v) for v in np.linspace(0, 255, 200)] + [float("nan")],
                "width": [400.0] * 50,
                "empty": [],
            }.items()
            if (bins := histogram_bins(values)) is not None
        },
        thumbnails=_thumbnails(image_paths),
    )
