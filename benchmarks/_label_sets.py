"""The labelled datasets of benchmarks/label_errors.py, one or more per modality, built from
what the installed packages ship (nothing is downloaded), and the seeded label flips.

* ``digits`` (image): scikit-learn's 1,797 handwritten 8 x 8 digits. The "given" model is
  deliberately weak (a 4 x 4 pooled, noised view: out-of-fold accuracy ~0.5); dlqa's own
  pipeline reads the 8 x 8 images.
* ``photo_regions`` (image): 64 px crops of the three photographs that scikit-learn and
  matplotlib ship, labelled by photograph and quadrant (12 classes; neighbouring quadrants
  share colours, so a colour-and-gradient model is far from perfect).
* ``glyphs`` (image): the symbolic icons of benchmarks/_natural_images.py (when cached),
  labelled by their icon-theme context. A natural labelling: the contexts are loose, so even
  the unflipped labels hold some "errors".
* ``docstrings`` (text): docstrings of the standard library (60+ characters, each text once),
  labelled by their top-level package (14 packages, at most 200 each).
* ``sounds`` (audio): 2 s clips from the generators of benchmarks/_audio_clips.py (tone,
  chirp, noise, speech-like syllables; notes and rhythms of the look-alikes) under
  background noise at -18..+3 dB SNR (120 clips per class), so that many clips are hard to
  tell apart.

Out-of-fold accuracies with 5 % flips are printed by the benchmark (0.41-0.80 for the given
models).
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dlqa.sources.base import Sample  # noqa: E402

NATURAL_ROOT = Path(__file__).resolve().parent / "_data" / "natural"
TEXT_PACKAGES = (
    "asyncio", "distutils", "email", "encodings", "http", "idlelib", "importlib", "lib2to3",
    "logging", "multiprocessing", "tkinter", "unittest", "urllib", "xml",
)  # fmt: skip
TEXTS_PER_PACKAGE = 200


@dataclass
class LabelSet:
    """A dataset with its true labels: samples (for dlqa's own features), class names, the
    true class of each sample, and optionally a "given" feature view for a weak model."""

    name: str
    modality: str
    samples: list[Sample]
    class_names: list[str]
    truth: np.ndarray
    weak_view: np.ndarray | None = None


def flip_labels(truth: np.ndarray, n_classes: int, fraction: float, seed: int) -> np.ndarray:
    """A copy of ``truth`` with ``round(fraction * n)`` labels, drawn at random, moved to
    another class drawn uniformly."""
    rng = np.random.default_rng(seed)
    labels = truth.copy()
    count = int(round(fraction * len(truth)))
    chosen = rng.choice(len(truth), size=count, replace=False)
    shift = rng.integers(1, n_classes, size=count)
    labels[chosen] = (truth[chosen] + shift) % n_classes
    return labels


def digits() -> LabelSet:
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.clip(data.images * 16, 0, 255).astype(np.uint8)
    samples = [Sample(f"digit_{i:04d}", i, array=image) for i, image in enumerate(images)]
    # The weak view: 2 x 2 pooled (4 x 4 pixels) with strong noise.
    pooled = data.images.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(len(images), -1)
    noisy = pooled + np.random.default_rng(7).normal(0, 4.0, pooled.shape)
    names = [str(d) for d in range(10)]
    return LabelSet("digits", "image", samples, names, data.target.astype(np.int64), noisy)


def _photographs() -> dict[str, np.ndarray]:
    import matplotlib
    from PIL import Image
    from sklearn.datasets import load_sample_images

    shipped = load_sample_images().images
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return {
        "china": shipped[0],
        "flower": shipped[1],
        "hopper": np.asarray(Image.open(hopper).convert("RGB")),
    }


def photo_regions(per_class: int = 60, side: int = 64) -> LabelSet:
    rng = np.random.default_rng(11)
    samples, truth, names = [], [], []
    for photo, pixels in _photographs().items():
        height, width = pixels.shape[:2]
        for qy in range(2):
            for qx in range(2):
                names.append(f"{photo}_{'tb'[qy]}{'lr'[qx]}")
                for _ in range(per_class):
                    y = int(rng.integers(qy * height // 2, (qy + 1) * height // 2 - side))
                    x = int(rng.integers(qx * width // 2, (qx + 1) * width // 2 - side))
                    crop = np.ascontiguousarray(pixels[y : y + side, x : x + side])
                    index = len(samples)
                    samples.append(Sample(f"crop_{index:04d}", index, array=crop))
                    truth.append(len(names) - 1)
    return LabelSet("photo_regions", "image", samples, names, np.array(truth))


def glyphs(min_class: int = 11) -> LabelSet | None:
    root = NATURAL_ROOT / "glyphs"
    if not root.is_dir():
        return None
    files = sorted(p for p in root.rglob("*") if p.is_file())
    counts = Counter(p.parent.name for p in files)
    names = sorted(c for c, k in counts.items() if k >= min_class)
    kept = [p for p in files if p.parent.name in names]
    samples = [Sample(str(p.relative_to(root)), i, path=str(p)) for i, p in enumerate(kept)]
    truth = np.array([names.index(p.parent.name) for p in kept])
    return LabelSet("glyphs", "image", samples, names, truth)


def docstrings() -> LabelSet:
    library = Path(os.__file__).parent
    seen: set[str] = set()
    samples, truth = [], []
    for code, package in enumerate(TEXT_PACKAGES):
        found = []
        for path in sorted((library / package).rglob("*.py")):
            if {"test", "tests"} & set(path.parts):
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
                doc = ast.get_docstring(node) if isinstance(node, kinds) else None
                if doc and len(doc) >= 60 and doc not in seen:
                    seen.add(doc)
                    found.append(doc)
        # A stable sample of at most TEXTS_PER_PACKAGE, by a hash of the text.
        found.sort(key=lambda t: hashlib.sha256(t.encode()).hexdigest())
        for doc in found[:TEXTS_PER_PACKAGE]:
            index = len(samples)
            samples.append(Sample(f"doc_{index:04d}", index, text=doc))
            truth.append(code)
    return LabelSet("docstrings", "text", samples, list(TEXT_PACKAGES), np.array(truth))


def sounds(per_class: int = 120, rate: int = 16_000, seconds: float = 2.0) -> LabelSet:
    import _audio_clips as clips

    kinds = ("tone", "chirp", "noise", "speech", "note", "rhythm")
    samples, truth = [], []
    for code, kind in enumerate(kinds):
        for k in range(per_class):
            rng = np.random.default_rng(1000 * code + k)
            if kind == "note":
                x = clips.note(k % 40, rate)
            elif kind == "rhythm":
                x = clips.rhythm(k % 40, rate)
            elif kind == "chirp":
                x = clips.chirp(rng, seconds, rate, k % 40)
            else:
                x = clips.GENERATORS[kind](rng, seconds, rate)
            x = np.resize(np.asarray(x, dtype=np.float64), int(seconds * rate))
            x /= np.sqrt(np.mean(x**2)) + 1e-9
            snr_db = rng.uniform(-18, 3)
            background = rng.standard_normal(len(x))
            if rng.random() < 0.5:  # a low rumble instead of hiss
                background = np.cumsum(background)
                background -= np.convolve(background, np.ones(400) / 400, mode="same")
            background /= np.sqrt(np.mean(background**2)) + 1e-9
            mixed = x * 10 ** (snr_db / 20) + background
            mixed *= 0.3 / np.abs(mixed).max()
            index = len(samples)
            samples.append(
                Sample(f"{kind}_{k:03d}", index, array=mixed.astype(np.float32), sample_rate=rate)
            )
            truth.append(code)
    return LabelSet("sounds", "audio", samples, list(kinds), np.array(truth))
