"""The demo's label-quality and change pieces: a table of annotators' votes on some training
images (measured by ``[labels] agreement``) and an "incoming" folder that a changed camera
produced (compared with the training images by ``dlqa data drift``).

Both are written next to the image data; neither changes the images the other parts check.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

VOTES_FILE = "labels/votes.csv"
ANNOTATORS = ("ana", "ben", "chen")
N_VOTED_ITEMS = 150
# Careful annotators: each picks a wrong class this often, so agreement stays high (alpha ~0.9)
# and the disagreement queue holds a handful of items to adjudicate.
ANNOTATOR_SLIP_RATE = 0.03
# The third annotator joined late and rated only part of the items: agreement must handle
# items rated by two or by three people.
LATE_ANNOTATOR_SHARE = 0.7

INCOMING_DIR = "incoming"
# The new camera's images come out this much brighter: the drift run must notice, although
# nothing is wrong with any single image.
INCOMING_BRIGHTNESS = 1.25
INCOMING_JPEG_QUALITY = 90


def write_votes(
    root: Path, train_ids: list[str], class_names: tuple[str, ...], rng: np.random.Generator
) -> Path:
    """``root/labels/votes.csv``: item, annotator, label for a sample of training images."""
    path = root / VOTES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    chosen = rng.choice(len(train_ids), size=min(N_VOTED_ITEMS, len(train_ids)), replace=False)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "annotator", "label"])
        for index in sorted(chosen.tolist()):
            item = train_ids[index]
            truth = item.split("/")[1]  # train/<class>/<file>
            for annotator in ANNOTATORS:
                if annotator == ANNOTATORS[-1] and rng.random() > LATE_ANNOTATOR_SHARE:
                    continue
                label = truth
                if rng.random() < ANNOTATOR_SLIP_RATE:
                    label = str(rng.choice([c for c in class_names if c != truth]))
                writer.writerow([item, annotator, label])
    return path


def write_incoming(root: Path, data_dir: Path, test_ids: list[str]) -> Path:
    """``root/incoming/<class>/``: the test images again, as a brighter camera sees them."""
    folder = root / INCOMING_DIR
    for sample_id in test_ids:
        _, class_name, name = sample_id.split("/")
        with Image.open(data_dir / sample_id) as image:
            brighter = ImageEnhance.Brightness(image.convert("RGB")).enhance(INCOMING_BRIGHTNESS)
        buffer = io.BytesIO()
        brighter.save(buffer, format="JPEG", quality=INCOMING_JPEG_QUALITY)
        target = folder / class_name / (Path(name).stem + ".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(buffer.getvalue())
    return folder
