"""Images per second through a bundle's predictor, from files, against the same work written
directly: the cost of dlqa's own serving path.

* **dlqa**: ``predictor = deploy.load(bundle)``, then ``predictor.predict_files(chunk)`` over
  the files in chunks of ``--chunk`` (64) files, as a user scores a folder: decode with
  Pillow (``inputs.decode_image``: bytes read, size checks, mode handling), the manifest's
  spec (``ImagePreprocessing.apply``), the finite/shape check, ONNX Runtime on chunks of up
  to 64 rows (a graph the export found to run at any batch size; a graph with a baked batch
  size would run at the export's batch size, padded), softmax.
* **raw**: the same files and chunks by hand: ``Image.open``, ``convert`` + ``resize``
  (bilinear, as the spec), numpy scaling and normalisation into one preallocated float32
  batch, one ``InferenceSession.run`` per chunk (the whole chunk as one batch), softmax. The
  session gets the predictor's intra-op thread count (``min(cores, 4)``).

Both paths give the same probabilities (checked: max |diff| is printed). Each is warmed up,
then the two are timed alternately, chunk by chunk (the order swapped each chunk, so that a
burst of load from elsewhere falls on both alike), ``--repeats`` times over all the files (more
for a case whose pass is short, up to about 2 s timed per path); the figure is the median of
the per-repetition ratios, dlqa images/s over raw images/s. Each model is exported at example
batch 8 (the ``[deploy]`` default) and 32 (the same path for these batch-free graphs: the
two figures show the noise). One file per call is timed too (median ms), against the raw
path's batch of 1.

Models: the demo's bundle (``serving_model(build_model())``: ink front end + DigitsCNN,
32 x 32 grayscale) on 112 x 112 digit images rendered as the demo renders them, and the
~10M-parameter CNN of ``benchmarks/parity.py`` (64 x 64 RGB) on generated ~300 x 300 JPEGs.

Target (issue): dlqa's path at least 0.9x the raw path's images/s, for bundles exported at
batch 32 (``met``; ``met_at_every_export_batch`` includes batch 8). Ends with one JSON line.

    python benchmarks/bundle_throughput.py [--images 512] [--chunk 64] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from parity import (
    CLASSES,
    SPEC_10M,
    SPEC_DEMO,
    cnn_10m,
    decoded,
    demo_digits,
    transform_10m,
    write_photos,
)
from PIL import Image

from dlqa import deploy

TARGET_RATIO = 0.9
EXPORT_BATCHES = (8, 32)
MIN_TIMED_S, MAX_REPEATS = 2.0, 25
SINGLE_CALLS = 30


def raw_path(model_file: Path, spec: dict[str, Any]) -> Callable[[Sequence[Path]], np.ndarray]:
    """The same work as ``predict_files`` written directly on Pillow, numpy and a bare
    onnxruntime session with the predictor's thread count."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = min(os.cpu_count() or 1, 4)
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    height, width = spec["resize"]
    mode = spec["color_mode"]
    channels = 3 if mode == "RGB" else 1
    mean = np.asarray(spec.get("mean") or [0.0], np.float32)
    inv_std = 1.0 / np.asarray(spec.get("std") or [1.0], np.float32)

    def run(paths: Sequence[Path]) -> np.ndarray:
        batch = np.empty((len(paths), channels, height, width), np.float32)
        for row, path in enumerate(paths):
            with Image.open(path) as image:
                small = image.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(small, dtype=np.float32).reshape(height, width, channels)
            pixels = (pixels * np.float32(1 / 255) - mean) * inv_std
            batch[row] = pixels.transpose(2, 0, 1)
        scores = session.run(None, {name: batch})[0]
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    return run


def in_chunks(fn: Callable[[Sequence[Path]], np.ndarray], paths: list[Path], chunk: int):
    return np.concatenate([fn(paths[i : i + chunk]) for i in range(0, len(paths), chunk)])


def compare(
    name: str,
    bundle: Path,
    spec: dict[str, Any],
    paths: list[Path],
    chunk: int,
    repeats: int,
    min_timed_s: float = MIN_TIMED_S,
) -> dict[str, Any]:
    predictor = deploy.load(bundle)
    raw = raw_path(bundle / "model.onnx", spec)
    runs = {"dlqa": predictor.predict_files, "raw": raw}
    start = time.perf_counter()
    outputs = {k: in_chunks(fn, paths, chunk) for k, fn in runs.items()}  # warm-up
    max_diff = float(np.abs(outputs["dlqa"] - outputs["raw"]).max())
    # A fast case (the demo CNN: a pass in a fraction of a second) gets more repetitions, so
    # that each path is timed for about ``min_timed_s`` in all.
    per_pass = (time.perf_counter() - start) / 2
    repeats = max(repeats, min(MAX_REPEATS, int(np.ceil(min_timed_s / max(per_pass, 1e-3)))))
    # The machine may be shared: the two paths alternate chunk by chunk (the order swapped
    # each time), so that a burst of other load falls on both alike.
    seconds: dict[str, list[float]] = {"dlqa": [], "raw": []}
    for rep in range(repeats):
        spent = {"dlqa": 0.0, "raw": 0.0}
        for number, first in enumerate(range(0, len(paths), chunk)):
            part = paths[first : first + chunk]
            for key in ("dlqa", "raw") if (rep + number) % 2 == 0 else ("raw", "dlqa"):
                start = time.perf_counter()
                runs[key](part)
                spent[key] += time.perf_counter() - start
        for key, value in spent.items():
            seconds[key].append(value)
    ratios = [r / d for d, r in zip(seconds["dlqa"], seconds["raw"], strict=True)]
    figures = {
        "export_batch": predictor.batch_size,
        "dlqa_images_per_s": round(len(paths) / statistics.median(seconds["dlqa"]), 1),
        "raw_images_per_s": round(len(paths) / statistics.median(seconds["raw"]), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "repeats": repeats,
        "max_prob_diff": max_diff,
        **single_file_latency(runs, paths),
    }
    print(
        f"{name} export batch {figures['export_batch']:>2}: dlqa "
        f"{figures['dlqa_images_per_s']:7.1f} images/s, raw {figures['raw_images_per_s']:7.1f} "
        f"images/s, median ratio {figures['ratio']:.3f} (per repetition {figures['ratios']}; "
        f"max |prob diff| {max_diff:.1e})"
    )
    print(
        f"{name} export batch {figures['export_batch']:>2}: one file per call "
        f"{figures['single_file_ms']['dlqa']:.2f} ms, raw (batch of 1) "
        f"{figures['single_file_ms']['raw']:.2f} ms"
    )
    return figures


def single_file_latency(
    runs: dict[str, Callable[[Sequence[Path]], np.ndarray]], paths: list[Path]
) -> dict[str, Any]:
    """Median milliseconds of one ``predict_files([path])`` call and of the raw path on one
    file."""
    spent: dict[str, list[float]] = {"dlqa": [], "raw": []}
    for number in range(SINGLE_CALLS):
        part = paths[number % len(paths) : number % len(paths) + 1]
        for key in ("dlqa", "raw") if number % 2 == 0 else ("raw", "dlqa"):
            start = time.perf_counter()
            runs[key](part)
            spent[key].append(time.perf_counter() - start)
    return {"single_file_ms": {k: round(1e3 * statistics.median(v), 2) for k, v in spent.items()}}


def export_bundle(
    model: torch.nn.Module,
    transform: Callable[[Any], Any],
    spec: dict[str, Any],
    files: list[Path],
    names: list[str],
    batch: int,
    folder: Path,
) -> Path:
    example = torch.stack([transform(decoded(p)) for p in files[:batch]])
    return deploy.export(
        model, folder, example_input=example, preprocessing=spec, class_names=names
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=512, help="files per model")
    parser.add_argument("--chunk", type=int, default=64, help="files per predict_files call")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per path")
    parser.add_argument("--quick", action="store_true", help="64 files, 3 repeats (smoke test)")
    args = parser.parse_args()
    n, repeats = (64, 3) if args.quick else (args.images, args.repeats)
    torch.manual_seed(0)
    from dlqa.demo.build import CLASS_NAMES
    from dlqa.demo.ink import raw_input, serving_model
    from dlqa.demo.training import build_model

    cases = {}
    with tempfile.TemporaryDirectory(prefix="dlqa-bench-throughput-") as scratch:
        work = Path(scratch)
        digits, _ = demo_digits(work / "demo", n)
        photos = write_photos(work / "photos", n)
        models = {
            "demo_cnn": (
                serving_model(build_model()),
                raw_input,
                SPEC_DEMO,
                digits,
                list(CLASS_NAMES),
            ),
            "cnn_10m": (cnn_10m(), transform_10m, SPEC_10M, photos, CLASSES),
        }
        for name, (model, transform, spec, files, names) in models.items():
            cases[name] = {"files": len(files), "by_export_batch": {}}
            for batch in EXPORT_BATCHES:
                bundle = export_bundle(
                    model, transform, spec, files, names, batch, work / f"{name}-{batch}"
                )
                figures = compare(
                    name,
                    bundle,
                    spec,
                    files,
                    args.chunk,
                    repeats,
                    0.0 if args.quick else MIN_TIMED_S,
                )
                cases[name]["by_export_batch"][str(batch)] = figures
    worst = min(f["ratio"] for c in cases.values() for f in c["by_export_batch"].values())
    at_32 = min(c["by_export_batch"]["32"]["ratio"] for c in cases.values())
    met = at_32 >= TARGET_RATIO
    print(
        f"median ratio at export batch 32 (the headline) at least {at_32:.3f}, at every export "
        f"batch at least {worst:.3f}; target at least {TARGET_RATIO} at export batch 32: "
        f"{'met' if met else 'NOT met'}"
    )
    print(
        json.dumps(
            {
                "benchmark": "bundle_throughput",
                "quick": args.quick,
                "images": n,
                "chunk": args.chunk,
                "min_repeats": repeats,
                "threads": min(os.cpu_count() or 1, 4),
                "cases": cases,
                "min_ratio_export_batch_32": at_32,
                "min_ratio_any_export_batch": worst,
                "target_ratio": TARGET_RATIO,
                "met": met,
                "met_at_every_export_batch": worst >= TARGET_RATIO,
            }
        )
    )


if __name__ == "__main__":
    main()
