"""The demo's label-quality and change pieces: annotators' votes and the incoming folder."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlqa.demo import CLASS_NAMES, DemoProject, build_demo_project
from dlqa.demo.build import planted_ids
from dlqa.demo.change_parts import ANNOTATORS, N_VOTED_ITEMS, write_votes


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoProject:
    return build_demo_project(tmp_path_factory.mktemp("demo"), seed=0, audio_and_text=False)


def all_sample_ids(data_dir: Path) -> list[str]:
    return sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())


def ordinary_ids(demo: DemoProject, split: str) -> list[str]:
    planted = planted_ids(demo.planted)
    return [
        i for i in all_sample_ids(demo.data_dir) if i.startswith(f"{split}/") and i not in planted
    ]


def read_votes(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or ()), list(reader)


def mean_luma(path: Path) -> float:
    with Image.open(path) as image:
        return float(np.asarray(image.convert("L"), dtype=np.float32).mean())


def test_votes_file_has_its_header_and_place(demo: DemoProject) -> None:
    assert demo.votes == demo.root / "labels" / "votes.csv"
    header, rows = read_votes(demo.votes)

    assert header == ["item", "annotator", "label"]
    assert rows and {row["annotator"] for row in rows} == set(ANNOTATORS)
    assert {row["label"] for row in rows} <= set(CLASS_NAMES)


def test_every_voted_item_is_an_ordinary_training_image(demo: DemoProject) -> None:
    assert demo.votes is not None
    _, rows = read_votes(demo.votes)
    items = {row["item"] for row in rows}

    # 480 ordinary training images at the default size: the vote covers 150 of them.
    assert len(items) == N_VOTED_ITEMS == 150
    assert items <= set(ordinary_ids(demo, "train"))
    assert not items & planted_ids(demo.planted)


def test_each_item_has_two_or_three_ratings_by_different_annotators(demo: DemoProject) -> None:
    assert demo.votes is not None
    _, rows = read_votes(demo.votes)
    raters: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        raters[row["item"]].append(row["annotator"])

    for item, annotators in raters.items():
        assert len(annotators) == len(set(annotators)), item
        # The first two rated everything; the third, who joined late, only part of it.
        assert annotators in (list(ANNOTATORS[:2]), list(ANNOTATORS)), item
    late_share = sum(len(a) == 3 for a in raters.values()) / len(raters)
    assert 0.55 <= late_share <= 0.85  # about 70 %


def test_labels_are_mostly_the_folders_class(demo: DemoProject) -> None:
    assert demo.votes is not None
    _, rows = read_votes(demo.votes)
    agrees = Counter(row["label"] == row["item"].split("/")[1] for row in rows)

    # Careful annotators slip about 3 % of the time: a few disagreements, not none.
    assert agrees[False] >= 1
    assert agrees[False] / len(rows) <= 0.08


def test_fewer_training_images_than_the_vote_covers_are_all_voted_on(tmp_path: Path) -> None:
    train_ids = [f"train/{c}/img_{i:05d}.png" for i, c in enumerate(CLASS_NAMES * 4)]  # 40
    path = write_votes(tmp_path, train_ids, CLASS_NAMES, np.random.default_rng(1))

    assert path == tmp_path / "labels" / "votes.csv"
    _, rows = read_votes(path)
    assert {row["item"] for row in rows} == set(train_ids)


def incoming_ids(demo: DemoProject) -> list[str]:
    assert demo.incoming is not None
    return sorted(
        p.relative_to(demo.incoming).as_posix() for p in demo.incoming.rglob("*") if p.is_file()
    )


def test_incoming_holds_one_jpeg_per_ordinary_test_image(demo: DemoProject) -> None:
    assert demo.incoming == demo.root / "incoming"
    expected = {
        f"{class_name}/{Path(name).stem}.jpg"
        for class_name, name in (i.split("/")[1:] for i in ordinary_ids(demo, "test"))
    }
    found = incoming_ids(demo)

    assert len(found) == len(expected) == 10 * 12
    assert set(found) == expected  # same class folders, same names as .jpg
    assert sorted(p.name for p in demo.incoming.iterdir()) == sorted(CLASS_NAMES)
    for incoming_id in found:
        with Image.open(demo.incoming / incoming_id) as image:
            assert image.format == "JPEG", incoming_id
            assert image.mode == "RGB" and image.size == (112, 112), incoming_id


def test_incoming_images_are_brighter_than_their_sources(demo: DemoProject) -> None:
    assert demo.incoming is not None
    sources = {
        f"{class_name}/{Path(name).stem}.jpg": f"test/{class_name}/{name}"
        for class_name, name in (i.split("/")[1:] for i in ordinary_ids(demo, "test"))
    }
    ratios = []
    for incoming_id, source_id in sources.items():
        brighter = mean_luma(demo.incoming / incoming_id)
        original = mean_luma(demo.data_dir / source_id)
        assert brighter > original, incoming_id
        ratios.append(brighter / original)
    # Brightened by 1.25, less where bright pixels saturate at 255.
    assert 1.1 <= float(np.median(ratios)) <= 1.3
