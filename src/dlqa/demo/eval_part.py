"""The demo's evaluation part: eval sets for the trained CNN (``[eval]`` of its dlqa.toml).

* The planted two-meaning class: "four" holds, besides upright fours, pages from a second
  scanner that saves them turned by 90 degrees, in the training images
  (:func:`plant_two_meaning_scans`) and in the test set (half of its fours). One label, two
  different-looking kinds of image: the CNN learns both (it reads nearly all of them as
  "four"), and ``eval.embedding_clusters`` must find that its embeddings of "four" form two
  clusters (the planted "two_meaning"): one of its clusters must be the sideways scans.
* ``eval/test/<class>/``: digits the CNN never trained on, rendered as the training images
  are, :data:`TEST_PER_CLASS` per class (60: with 30 of each kind, the two kinds of "four"
  are enough samples for the cluster test to tell two modes from one).
* ``eval/golden/<class>/``: curated cases, :data:`GOLDEN_PER_CLASS` per class.
* ``eval/regression.csv`` with ``eval/cases/``: the bad-case gallery of user reports, each
  with an id, the expected label and a note. Two are pages scanned upside down, which the
  CNN never saw: ``eval.regression_cases`` must fail on them (the planted
  "regression_case").

Slices come from the data stage's properties of these files (``brightness``, ``contrast``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dlqa.demo.digit_render import encode_png, render_digit

EVAL_PLANTED_PROBLEMS = ("two_meaning", "regression_case")
EVAL_DIR = "eval"
REGRESSION_FILE = "eval/regression.csv"
MODEL_FILE = "models/digits_cnn.pt"
TEST_PER_CLASS = 60
GOLDEN_PER_CLASS = 2
TWO_MEANING_CLASS = 4  # "four"
SIDEWAYS_IN_TEST = 30
SIDEWAYS_IN_TRAIN = 16
# Ordinary reported cases (one digit of each of these classes), then pages scanned upside
# down (one digit of each of these).
REGRESSION_CLASSES = (0, 3, 7)
UPSIDE_DOWN_CLASSES = (4, 7)
# Digits each class's pool gives the eval sets, from its end: test, golden, one case.
EVAL_DIGITS = TEST_PER_CLASS + GOLDEN_PER_CLASS + 1


@dataclass(frozen=True)
class EvalPart:
    folder: Path  # root / "eval"
    # problem -> sample ids, as the eval stage names them, that its check must flag
    planted: dict[str, list[str]]


def plant_two_meaning_scans(
    files: dict[str, bytes], render: Any, next_name: Any, pool: dict[int, np.ndarray],
    class_names: tuple[str, ...],
) -> list[str]:  # fmt: skip
    """Add :data:`SIDEWAYS_IN_TRAIN` sideways scans of fours to the training images (``files``:
    sample id -> bytes), rendered as the others are; returns their ids."""
    start = -(EVAL_DIGITS + len(UPSIDE_DOWN_CLASSES) + SIDEWAYS_IN_TRAIN)
    digits = pool[TWO_MEANING_CLASS][start : start + SIDEWAYS_IN_TRAIN]
    ids = []
    for digit in digits:
        sample_id = f"train/{class_names[TWO_MEANING_CLASS]}/{next_name('.png')}"
        files[sample_id] = render(np.rot90(digit), as_png=True)
        ids.append(sample_id)
    return ids


def _png(digit: np.ndarray, rng: np.random.Generator, *, turns: int = 0) -> bytes:
    shown = np.rot90(digit, turns)
    rgb = np.clip(np.rint(render_digit(shown, rng)), 0, 255).astype(np.uint8)
    return encode_png(Image.fromarray(rgb, "RGB"))


def build_eval_part(
    root: Path, pool: dict[int, np.ndarray], class_names: tuple[str, ...], seed: int
) -> EvalPart:
    """Write the eval sets from ``pool`` (class index -> digits the demo's images do not
    show, so the CNN, which trains on those images, never saw them)."""
    rng = np.random.default_rng([seed, 2])  # its own stream: the data's bytes stay the same
    folder = root / EVAL_DIR
    planted: dict[str, list[str]] = {"two_meaning": [], "regression_case": []}
    cases: list[tuple[str, str, str, str]] = []  # id, path, expected, note
    for class_index, name in enumerate(class_names):
        digits = pool[class_index][-EVAL_DIGITS:]
        for i, digit in enumerate(digits[:TEST_PER_CLASS]):
            sideways = class_index == TWO_MEANING_CLASS and i < SIDEWAYS_IN_TEST
            sample_id = f"{name}/{'scan' if sideways else 'img'}_{i:02d}.png"
            _write(folder / "test" / sample_id, _png(digit, rng, turns=int(sideways)))
            if sideways:
                planted["two_meaning"].append(sample_id)
        for i, digit in enumerate(digits[TEST_PER_CLASS : TEST_PER_CLASS + GOLDEN_PER_CLASS]):
            _write(folder / "golden" / name / f"golden_{i}.png", _png(digit, rng))
        if class_index in REGRESSION_CLASSES:
            ticket = f"ticket-{1000 + 17 * class_index}"
            _write(folder / "cases" / f"{ticket}.png", _png(digits[-1], rng))
            cases.append((ticket, f"cases/{ticket}.png", name, f"user report: a {name} misread"))
    for k, class_index in enumerate(UPSIDE_DOWN_CLASSES):
        ticket = f"ticket-{2041 + k}"
        digit = pool[class_index][-(EVAL_DIGITS + 1 + k)]
        _write(folder / "cases" / f"{ticket}.png", _png(digit, rng, turns=2))
        name = class_names[class_index]
        cases.append((ticket, f"cases/{ticket}.png", name, f"a {name} scanned upside down"))
        planted["regression_case"].append(f"regression:{ticket}")
    with (root / REGRESSION_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "path", "expected", "note"])
        writer.writerows(cases)
    return EvalPart(folder, planted)


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def eval_config_text(class_names: tuple[str, ...]) -> str:
    """The ``[eval]`` section of the demo's dlqa.toml."""
    names = ", ".join(f'"{name}"' for name in class_names)
    return f"""
# The CNN that `dlqa demo` trains (models/digits_cnn.pt) on its eval sets: `dlqa model eval`,
# and `dlqa check` runs it too. Penultimate-layer embeddings come from the "dropout" module.
[eval]
model = "dlqa.demo.training:build_model"
weights = "{MODEL_FILE}"
transform = "dlqa.demo.training:eval_transform"
embedding_layer = "dropout"
class_names = [{names}]
test = "{EVAL_DIR}/test"
golden = "{EVAL_DIR}/golden"
regression = "{REGRESSION_FILE}"
id_column = "id"
slices = ["brightness", "contrast"]

[eval.guardrails]
# Below this confidence the demo's model must abstain rather than answer.
min_confidence = 0.3
"""
