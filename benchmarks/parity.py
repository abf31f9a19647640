"""Wall time of the deployment parity matrix: export, then ``deploy.parity`` (onnx_fp32,
onnx_fp16 emulated on CPU, onnx_int8 dynamic quantisation) and ``deploy.batch_sweep`` on
``--images`` eval files, through the public API as a user runs it::

    deploy.export(model, bundle, example_input=..., preprocessing=spec, class_names=...)
    deploy.check(bundle, model=model, transform=transform, files=files,
                 checks=["deploy.parity", "deploy.batch_sweep"])

Two models:

* **demo_cnn**: the demo's exported model, ``serving_model(build_model())`` (the ink front
  end + DigitsCNN, untrained weights: the timing does not depend on them), 32 x 32 grayscale,
  on digit images rendered as the demo renders them (:func:`demo_digits`).
* **cnn_10m**: a ~10M-parameter CNN (:func:`cnn_10m`: ten 3 x 3 conv + BatchNorm + ReLU
  layers widening from 32 to 512 channels, max pooling down to 4 x 4, a 8192 -> 640 -> 10
  head) at 64 x 64 RGB (ImageNet normalisation), on generated photograph-like JPEGs of about
  300 x 300 (:func:`write_photos`).

Export is timed apart from the checks. The per-step figures (training transform over the
files, the eager reference pass, each target's conversion and run, the batch sweep) are
measured inside the same ``deploy.check`` run by timing wrappers around the functions it
calls (no second run): ``DeployContext.training_inputs`` and ``.reference``,
``parity_checks._parity_one`` (one call per target: conversion + session + run + judging),
``parity_checks.variant_path`` (the conversion alone) and ``batch_sweep_result``.

Target (issue): the whole matrix for the 10M CNN (export excluded) under 60 s on 2 cores.
Ends with one JSON line.

    python benchmarks/parity.py [--images 512] [--export-batch 8] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch import nn

from dlqa import deploy
from dlqa.deploy import parity_checks
from dlqa.deploy.context import DeployContext

TARGET_S = 60.0
CLASSES = [f"class{i}" for i in range(10)]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SPEC_10M = {
    "resize": [64, 64],
    "interpolation": "bilinear",
    "color_mode": "RGB",
    "mean": list(MEAN),
    "std": list(STD),
}
SPEC_DEMO = {"resize": [32, 32], "interpolation": "bilinear", "color_mode": "L"}


# -- models and data ------------------------------------------------------------------------


def cnn_10m(classes: int = len(CLASSES)) -> nn.Module:
    """About 10M parameters for (n, 3, 64, 64) inputs (9,964,138 for ten classes)."""

    def block(inputs: int, outputs: int) -> list[nn.Module]:
        return [
            nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(),
        ]

    torch.manual_seed(0)
    model = nn.Sequential(
        *block(3, 32),
        *block(32, 32),
        nn.MaxPool2d(2),  # 32 x 32
        *block(32, 64),
        *block(64, 64),
        nn.MaxPool2d(2),  # 16 x 16
        *block(64, 128),
        *block(128, 128),
        nn.MaxPool2d(2),  # 8 x 8
        *block(128, 256),
        *block(256, 256),
        nn.MaxPool2d(2),  # 4 x 4
        *block(256, 512),
        *block(512, 512),
        nn.Flatten(),
        nn.Linear(512 * 4 * 4, 640),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(640, classes),
    )
    # Non-trivial BatchNorm statistics, as a trained model has (the export folds them).
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.running_mean.uniform_(-0.1, 0.1)
                layer.running_var.uniform_(0.5, 1.5)
    return model.eval()


def transform_10m(image: Image.Image) -> torch.Tensor:
    """The 10M CNN's training transform: RGB, 64 x 64 bilinear, 0..1, ImageNet-normalised."""
    small = image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32) / 255.0
    pixels = (pixels - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def write_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` photograph-like JPEGs (q85, sides 240-360): a lit gradient background, a few
    blurred shapes, sensor-like noise."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        h, w = (int(v) for v in rng.integers(240, 361, 2))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1) / 2
        low, high = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        pixels = low + ramp[..., None] * (high - low)
        image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 9))):
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            x1, y1 = x0 + rng.integers(20, w // 2), y0 + rng.integers(20, h // 2)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([int(x0), int(y0), int(x1), int(y1)], fill=colour)
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
        noisy = np.asarray(image, np.float32) + rng.normal(0, 6, (h, w, 3))
        path = folder / f"photo{index:04d}.jpg"
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8), "RGB").save(path, quality=85)
        paths.append(path)
    return paths


def demo_digits(folder: Path, n: int, seed: int = 0) -> tuple[list[Path], list[str]]:
    """``n`` digit images as the demo renders them (``digit_render.render_digit``: 112 x 112
    RGB, scikit-learn's digits posed on lit paper or chalkboard; alternately JPEG q92 and
    PNG, as the demo stores them) and their class names. The demo builder's redraws for
    pHash distinctness and its planted problems are left out: they cost seconds and change
    nothing here."""
    from sklearn.datasets import load_digits

    from dlqa.demo.build import CLASS_NAMES
    from dlqa.demo.digit_render import JPEG_QUALITY, render_digit

    rng = np.random.default_rng(seed)
    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    for index in range(n):
        pick = int(rng.integers(len(digits.target)))
        rgb = render_digit(digits.images[pick], rng)
        image = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
        label = CLASS_NAMES[int(digits.target[pick])]
        if index % 2:
            path = folder / f"{label}-{index:04d}.png"
            image.save(path)
        else:
            path = folder / f"{label}-{index:04d}.jpg"
            image.save(path, quality=JPEG_QUALITY)
        paths.append(path)
        labels.append(label)
    return paths, labels


def decoded(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


# -- timing ---------------------------------------------------------------------------------


class Timings:
    """Seconds accumulated by name, from wrappers around the functions the checks call."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.phase = "other"

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds


@contextmanager
def instrumented(timings: Timings) -> Iterator[None]:
    """Wrap the parity machinery's steps with timers for the duration of the block."""
    patches: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name, None)
        if original is None:  # renamed internals: that figure is left out, nothing breaks
            return
        patches.append((owner, name, original))
        setattr(owner, name, functools.wraps(original)(make(original)))

    def phase(label: str) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            def timed(*args: Any, **kwargs: Any) -> Any:
                outer, timings.phase = timings.phase, label
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    timings.add(label, time.perf_counter() - start)
                    timings.phase = outer

            return timed

        return make

    def per_target(original: Any) -> Any:
        def timed(target: str, *args: Any, **kwargs: Any) -> Any:
            outer, timings.phase = timings.phase, f"target:{target}"
            start = time.perf_counter()
            try:
                return original(target, *args, **kwargs)
            finally:
                timings.add(f"target:{target}", time.perf_counter() - start)
                timings.phase = outer

        return timed

    def conversion(original: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timings.add(f"convert:{timings.phase}", time.perf_counter() - start)

        return timed

    def reference(original: Any) -> Any:
        def timed(self: Any, batch: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(self, batch)
            finally:
                timings.add(f"reference:{timings.phase}", time.perf_counter() - start)

        return timed

    wrap(DeployContext, "training_inputs", phase("transform"))
    wrap(DeployContext, "reference", reference)
    wrap(parity_checks, "parity_results", phase("parity"))
    wrap(parity_checks, "_parity_one", per_target)
    wrap(parity_checks, "variant_path", conversion)
    wrap(parity_checks, "batch_sweep_result", phase("batch_sweep"))
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def run_case(
    name: str,
    model: nn.Module,
    transform: Callable[[Any], Any],
    spec: dict[str, Any],
    files: list[Path],
    labels: list[str] | None,
    class_names: list[str],
    example_batch: int,
    work: Path,
) -> dict[str, Any]:
    params = sum(p.numel() for p in model.parameters())
    example = torch.stack([transform(decoded(p)) for p in files[:example_batch]])
    bundle = work / f"{name}-bundle"
    start = time.perf_counter()
    deploy.export(
        model,
        bundle,
        example_input=example,
        preprocessing=spec,
        class_names=class_names,
        golden_inputs=files[:4],
    )
    export_s = time.perf_counter() - start
    timings = Timings()
    start = time.perf_counter()
    with instrumented(timings):
        results = deploy.check(
            bundle,
            model=model,
            transform=transform,
            files=files,
            labels=labels,
            checks=["deploy.parity", "deploy.batch_sweep"],
        )
    check_s = time.perf_counter() - start
    t = timings.seconds
    steps = {
        "transform_s": t.get("transform"),
        "reference_parity_s": t.get("reference:parity"),
        "targets": {
            key.split(":", 1)[1]: {
                "seconds": round(value, 2),
                "convert_s": round(t.get(f"convert:{key}", 0.0), 2),
            }
            for key, value in t.items()
            if key.startswith("target:")
        },
        "batch_sweep_s": t.get("batch_sweep"),
        "reference_batch_sweep_s": t.get("reference:batch_sweep"),
    }
    steps = {k: round(v, 2) if isinstance(v, float) else v for k, v in steps.items()}
    print(
        f"{name}: {params:,} parameters, {len(files)} files, export batch {example_batch}: "
        f"export {export_s:.1f} s, parity matrix + batch sweep {check_s:.1f} s"
    )
    print(
        f"  training transform over the files {steps['transform_s']} s, "
        f"eager reference {steps['reference_parity_s']} s"
    )
    for target, figures in steps["targets"].items():
        print(f"  {target:<10} {figures['seconds']:6.2f} s (conversion {figures['convert_s']} s)")
    print(
        f"  batch sweep {steps['batch_sweep_s']} s "
        f"(its eager reference pass {steps['reference_batch_sweep_s']} s)"
    )
    for result in results:
        subject = f" [{result.subject}]" if result.subject else ""
        print(f"  {result.check_id}{subject}: {result.status.value}: {result.summary[:110]}")
    return {
        "params": params,
        "files": len(files),
        "export_batch": example_batch,
        "export_s": round(export_s, 2),
        "seconds": round(check_s, 2),
        "steps": steps,
        "statuses": {
            f"{r.check_id}:{r.subject or ''}".rstrip(":"): r.status.value for r in results
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=512, help="eval files per model")
    parser.add_argument(
        "--export-batch",
        type=int,
        default=8,
        help="the export's example batch ([deploy] example_batch's default)",
    )
    parser.add_argument("--quick", action="store_true", help="64 files per model (smoke test)")
    args = parser.parse_args()
    n = 64 if args.quick else args.images
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="dlqa-bench-parity-") as scratch:
        work = Path(scratch)
        start = time.perf_counter()
        digits, digit_labels = demo_digits(work / "demo", n)
        photos = write_photos(work / "photos", n)
        print(
            f"data: {len(digits)} demo digits, {len(photos)} photos in "
            f"{time.perf_counter() - start:.1f} s"
        )

        from dlqa.demo.build import CLASS_NAMES
        from dlqa.demo.ink import raw_input, serving_model
        from dlqa.demo.training import build_model

        demo = run_case(
            "demo_cnn",
            serving_model(build_model()),
            raw_input,
            SPEC_DEMO,
            digits,
            digit_labels,
            list(CLASS_NAMES),
            args.export_batch,
            work,
        )
        big = run_case(
            "cnn_10m",
            cnn_10m(),
            transform_10m,
            SPEC_10M,
            photos,
            None,
            CLASSES,
            args.export_batch,
            work,
        )
    met = big["seconds"] < TARGET_S
    print(
        f"cnn_10m parity matrix {big['seconds']:.1f} s: target under {TARGET_S:g} s "
        f"{'met' if met else 'NOT met'}"
    )
    print(
        json.dumps(
            {
                "benchmark": "parity",
                "quick": args.quick,
                "images": n,
                "demo_cnn": demo,
                "cnn_10m": {**big, "target_s": TARGET_S, "met": met},
            }
        )
    )


if __name__ == "__main__":
    main()
