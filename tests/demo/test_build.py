"""The demo project builder: layout, planted problems, ordinary images and determinism."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from scipy.ndimage import laplace
from sklearn.datasets import load_digits

import dlqa.demo.build as build_module
from dlqa.core.errors import UsageError
from dlqa.data.crop_hashes import find_near_duplicate_samples
from dlqa.data.probes.phash import center_hash, perceptual_hash
from dlqa.demo import (
    CLASS_NAMES,
    PLANTED_PROBLEMS,
    DemoProject,
    build_demo_project,
    demo_config_text,
)
from dlqa.demo.digit_render import DistinctRenderer
from dlqa.demo.eval_part import SIDEWAYS_IN_TRAIN
from dlqa.sources import FolderSource

PAIR_PROBLEMS = ("mislabeled", "exact_duplicates", "near_duplicate", "split_leakage")
# Two planted files of their own, copies of nothing: each id is a planted file.
TWO_FILE_PROBLEMS = ("label_error",)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class RecordedBuild:
    demo: DemoProject
    rendered: dict[bytes, np.ndarray]  # file bytes the renderer returned -> the 8x8 digit drawn


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedBuild:
    """The default build, with every digit the renderer draws recorded (nothing else changes:
    the recorder only looks at what the renderer is asked for and returns)."""
    rendered: dict[bytes, np.ndarray] = {}

    class RecordingRenderer(DistinctRenderer):
        def render(self, digit: np.ndarray, *, as_png: bool, darken: bool = False) -> bytes:
            content = super().render(digit, as_png=as_png, darken=darken)
            rendered[content] = np.array(digit, copy=True)
            return content

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build_module, "DistinctRenderer", RecordingRenderer)
        demo = build_demo_project(tmp_path_factory.mktemp("demo"), seed=0)
    return RecordedBuild(demo=demo, rendered=rendered)


@pytest.fixture(scope="module")
def demo(recorded: RecordedBuild) -> DemoProject:
    return recorded.demo


def all_sample_ids(data_dir: Path) -> list[str]:
    return sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())


def planted_files(demo: DemoProject) -> set[str]:
    """Every file a plant added: the copy of a pair, or each id of any other problem."""
    return {
        sample_id
        for problem, ids in demo.planted.items()
        for sample_id in (ids[:1] if problem in PAIR_PROBLEMS else ids)
    }


def ordinary_ids(demo: DemoProject) -> list[str]:
    return [i for i in all_sample_ids(demo.data_dir) if i not in planted_files(demo)]


def luma(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32)


def class_and_split(sample_id: str) -> tuple[str, str]:
    split, class_name, _ = sample_id.split("/")
    return split, class_name


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def test_layout_is_split_class_folders_with_the_config(demo: DemoProject) -> None:
    assert demo.data_dir == demo.root / "data"
    assert sorted(p.name for p in demo.data_dir.iterdir()) == ["test", "train"]
    for split in ("train", "test"):
        assert sorted(p.name for p in (demo.data_dir / split).iterdir()) == sorted(CLASS_NAMES)
    assert (demo.root / "dlqa.toml").read_text(encoding="utf-8") == demo_config_text()

    ordinary = ordinary_ids(demo)
    splits = [class_and_split(i)[0] for i in ordinary]
    # Ordinary for the data checks: the evaluation part's sideways fours are among them.
    assert len(ordinary) == 10 * 60 + SIDEWAYS_IN_TRAIN
    assert splits.count("train") == 10 * 48 + SIDEWAYS_IN_TRAIN
    assert splits.count("test") == 10 * 12
    suffixes = {Path(i).suffix for i in ordinary}
    assert suffixes == {".png", ".jpg"}


def test_config_text_parses_as_toml() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads(demo_config_text())

    assert config["data"]["source"] == "data"
    assert config["labels"] == {"agreement": "labels/votes.csv"}
    assert config["gates"]["data.dark"] == {"level": "fail"}
    assert config["gates"]["data.near_duplicates"] == {"max_fraction": 0.0}


def test_the_folder_source_reads_the_demo(demo: DemoProject) -> None:
    samples = list(FolderSource(demo.data_dir))

    assert len(samples) == len(all_sample_ids(demo.data_dir))
    assert {s.split for s in samples} == {"train", "test"}
    assert {s.label for s in samples} == set(CLASS_NAMES)


def test_planted_keys_and_ids_exist(demo: DemoProject) -> None:
    assert tuple(demo.planted) == PLANTED_PROBLEMS
    existing = set(all_sample_ids(demo.data_dir))
    for problem, ids in demo.planted.items():
        assert len(ids) == (2 if problem in PAIR_PROBLEMS + TWO_FILE_PROBLEMS else 1)
        assert set(ids) <= existing
    # Each plant is a separate file: no file serves two problems.
    assert len(planted_files(demo)) == len(PLANTED_PROBLEMS) + len(TWO_FILE_PROBLEMS)


def test_mislabeled_copy_is_identical_bytes_in_another_class(demo: DemoProject) -> None:
    copy, original = demo.planted["mislabeled"]

    assert class_and_split(copy)[1] != class_and_split(original)[1]
    assert (demo.data_dir / copy).read_bytes() == (demo.data_dir / original).read_bytes()


def test_exact_duplicate_is_a_second_file_in_the_same_folder(demo: DemoProject) -> None:
    copy, original = demo.planted["exact_duplicates"]

    assert copy != original
    assert class_and_split(copy) == class_and_split(original)
    assert (demo.data_dir / copy).read_bytes() == (demo.data_dir / original).read_bytes()


def test_near_duplicate_is_a_smaller_reencoded_copy(demo: DemoProject) -> None:
    copy, original = demo.planted["near_duplicate"]
    copy_bytes = (demo.data_dir / copy).read_bytes()

    assert class_and_split(copy) == class_and_split(original)
    assert copy_bytes != (demo.data_dir / original).read_bytes()
    with Image.open(io.BytesIO(copy_bytes)) as near, Image.open(demo.data_dir / original) as orig:
        assert near.format == "JPEG"
        assert 0.85 * orig.width <= near.width <= 0.95 * orig.width
        assert hamming(perceptual_hash(near), perceptual_hash(orig)) <= 4


def test_split_leakage_copies_a_train_file_into_test(demo: DemoProject) -> None:
    copy, original = demo.planted["split_leakage"]

    assert class_and_split(copy) == ("test", class_and_split(original)[1])
    assert class_and_split(original)[0] == "train"
    assert (demo.data_dir / copy).read_bytes() == (demo.data_dir / original).read_bytes()


def test_corrupt_file_is_a_truncated_jpeg_that_fails_to_load(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)  # Pillow's default
    (corrupt,) = demo.planted["corrupt"]
    content = (demo.data_dir / corrupt).read_bytes()

    assert corrupt.endswith(".jpg")
    assert content.startswith(b"\xff\xd8")
    assert not content.rstrip(b"\x00").endswith(b"\xff\xd9")  # no end-of-image marker
    with pytest.raises(OSError), Image.open(io.BytesIO(content)) as image:
        image.load()


def test_format_mismatch_is_a_png_named_jpg(demo: DemoProject) -> None:
    (mismatch,) = demo.planted["format_mismatch"]
    path = demo.data_dir / mismatch

    assert path.suffix == ".jpg"
    assert path.read_bytes().startswith(PNG_MAGIC)
    with Image.open(path) as image:
        assert image.format == "PNG"


def test_dark_image_is_dark(demo: DemoProject) -> None:
    (dark,) = demo.planted["dark"]

    assert luma(demo.data_dir / dark).mean() < 15


def classes_of_other_plants(demo: DemoProject) -> set[str]:
    return {
        class_and_split(sample_id)[1]
        for problem, ids in demo.planted.items()
        if problem != "label_error"
        for sample_id in ids
    }


def test_label_errors_are_pngs_in_the_two_classes_no_other_plant_uses(demo: DemoProject) -> None:
    first, second = demo.planted["label_error"]
    folders = [class_and_split(i)[1] for i in (first, second)]

    assert len(classes_of_other_plants(demo)) == 8  # each other plant has a class of its own
    assert folders[0] != folders[1]
    assert set(folders) == set(CLASS_NAMES) - classes_of_other_plants(demo)
    for sample_id in (first, second):
        path = demo.data_dir / sample_id
        assert class_and_split(sample_id)[0] == "train"
        assert path.suffix == ".png" and path.read_bytes().startswith(PNG_MAGIC)
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (112, 112)


def digit_class(digit: np.ndarray) -> str:
    bunch = load_digits()
    (index,) = np.flatnonzero((bunch.images == digit).all(axis=(1, 2)))
    return CLASS_NAMES[int(bunch.target[index])]


def test_each_label_error_shows_the_digit_of_the_other_ones_folder(
    recorded: RecordedBuild,
) -> None:
    demo = recorded.demo
    first, second = demo.planted["label_error"]
    contents = {i: (demo.data_dir / i).read_bytes() for i in (first, second)}
    drawn = {i: recorded.rendered[content] for i, content in contents.items()}
    shown = {i: digit_class(digit) for i, digit in drawn.items()}

    # Filed under the wrong class: each shows the digit whose folder the other sits in.
    assert shown[first] == class_and_split(second)[1] != class_and_split(first)[1]
    assert shown[second] == class_and_split(first)[1] != class_and_split(second)[1]
    # Fresh renders of digits no other file shows.
    others = [d for content, d in recorded.rendered.items() if content not in contents.values()]
    # ordinary, corrupt (before cutting), mismatch, dark, the eval part's sideways fours
    assert len(others) == 10 * 60 + 3 + SIDEWAYS_IN_TRAIN
    for sample_id, digit in drawn.items():
        assert not any(np.array_equal(digit, other) for other in others), sample_id


def planted_ids_of_pairs(demo: DemoProject) -> set[str]:
    return {sample_id for problem in PAIR_PROBLEMS for sample_id in demo.planted[problem]}


def test_label_errors_copy_no_file(demo: DemoProject) -> None:
    everything = all_sample_ids(demo.data_dir)
    digests = {i: hashlib.sha256((demo.data_dir / i).read_bytes()).digest() for i in everything}
    for sample_id in demo.planted["label_error"]:
        assert sum(d == digests[sample_id] for d in digests.values()) == 1, sample_id

    # Nor near any decodable file (planted copies included) under the near-duplicate search.
    decodable = [i for i in everything if i not in demo.planted["corrupt"]]
    hashes, centers = [], []
    for sample_id in decodable:
        with Image.open(demo.data_dir / sample_id) as image:
            hashes.append(perceptual_hash(image))
            centers.append(center_hash(image))
    pairs, _ = find_near_duplicate_samples(np.array(hashes), np.array(centers), 10)
    near = {decodable[int(k)] for pair in pairs.tolist() for k in pair}
    assert near == planted_ids_of_pairs(demo)  # the planted pairs, and nothing else
    assert not near & set(demo.planted["label_error"])


def test_ordinary_images_are_unremarkable(demo: DemoProject) -> None:
    # The label errors are ordinary renders too: only the folder they sit in is wrong.
    for sample_id in ordinary_ids(demo) + demo.planted["label_error"]:
        path = demo.data_dir / sample_id
        with Image.open(path) as image:
            assert image.mode == "RGB", sample_id
            rgb = np.asarray(image, dtype=np.float32)
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        assert 60 <= gray.mean() <= 190, sample_id
        assert gray.std() >= 20, sample_id  # contrast
        assert laplace(gray).var() >= 100, sample_id  # not blurry
        assert (rgb.max(axis=2) - rgb.min(axis=2)).mean() >= 15, sample_id  # tinted, not gray


def test_no_two_unplanted_images_are_near_duplicates(demo: DemoProject) -> None:
    # Every decodable file except the planted copies: ordinary, format-mismatch and dark images.
    copies = {demo.planted[p][0] for p in PAIR_PROBLEMS}
    skipped = copies | set(demo.planted["corrupt"])
    hashes, centers = [], []
    for sample_id in all_sample_ids(demo.data_dir):
        if sample_id not in skipped:
            with Image.open(demo.data_dir / sample_id) as image:
                hashes.append(perceptual_hash(image))
                centers.append(center_hash(image))
    # ordinary, mismatch, dark, two label errors, the eval part's sideways fours
    assert len(hashes) == 10 * 60 + 2 + 2 + SIDEWAYS_IN_TRAIN
    # The same search the near-duplicate check runs (full and centre hashes), at distance 10.
    pairs, _ = find_near_duplicate_samples(np.array(hashes), np.array(centers), 10)
    assert len(pairs) == 0


def test_each_planted_pair_is_close_in_phash(demo: DemoProject) -> None:
    for problem in PAIR_PROBLEMS:
        copy, original = demo.planted[problem]
        with Image.open(demo.data_dir / copy) as a, Image.open(demo.data_dir / original) as b:
            assert hamming(perceptual_hash(a), perceptual_hash(b)) <= 4, problem


def tree_fingerprint(data_dir: Path) -> str:
    digest = hashlib.sha256()
    for sample_id in all_sample_ids(data_dir):
        digest.update(sample_id.encode() + b"\0" + (data_dir / sample_id).read_bytes())
    return digest.hexdigest()


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = build_demo_project(tmp_path / "a", seed=3, n_per_class=8, audio_and_text=False)
    second = build_demo_project(tmp_path / "b", seed=3, n_per_class=8, audio_and_text=False)
    other = build_demo_project(tmp_path / "c", seed=4, n_per_class=8, audio_and_text=False)

    assert first.planted == second.planted
    assert tree_fingerprint(first.data_dir) == tree_fingerprint(second.data_dir)
    assert tree_fingerprint(first.data_dir) != tree_fingerprint(other.data_dir)


def test_small_build_has_all_plants_and_the_split_ratio(tmp_path: Path) -> None:
    demo = build_demo_project(tmp_path, seed=1, n_per_class=5, audio_and_text=False)

    assert demo.audio is None and demo.text is None
    # Without torch there are no embeddings, and nothing to judge the image label errors on.
    image = demo.planted
    if demo.embeddings is None:
        image = {p: ids for p, ids in demo.planted.items() if p != "label_error"}
    expected = {"image": image, "drift": {"brightness_shift": [], "new_camera": []}}
    if demo.evaluation is not None:  # with torch: the eval sets of the trained CNN
        expected["eval"] = demo.evaluation.planted
    assert demo.planted_by_part() == expected
    ordinary = ordinary_ids(demo)
    assert len(ordinary) == 50 + SIDEWAYS_IN_TRAIN
    assert sum(class_and_split(i)[0] == "test" for i in ordinary) == 10
    assert tuple(demo.planted) == PLANTED_PROBLEMS


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    build_demo_project(tmp_path, seed=0, n_per_class=5)
    (tmp_path / "data" / "stray.txt").write_text("left over")
    (tmp_path / "audio" / "stray.wav").write_bytes(b"left over")
    (tmp_path / "incoming" / "stray.jpg").write_bytes(b"left over")

    with pytest.raises(UsageError, match="already holds a demo project"):
        build_demo_project(tmp_path, seed=0, n_per_class=5)
    rebuilt = build_demo_project(tmp_path, seed=0, n_per_class=5, overwrite=True)

    assert not (rebuilt.data_dir / "stray.txt").exists()
    assert not (tmp_path / "audio" / "stray.wav").exists()
    assert not (tmp_path / "incoming" / "stray.jpg").exists()
    assert len(all_sample_ids(rebuilt.data_dir)) == (
        50 + len(PLANTED_PROBLEMS) + 1 + SIDEWAYS_IN_TRAIN
    )


@pytest.mark.parametrize("part", ["audio", "text", "incoming"])
def test_a_part_folder_alone_is_not_overwritten(tmp_path: Path, part: str) -> None:
    (tmp_path / part).mkdir()
    (tmp_path / part / "mine.txt").write_text("someone's work")

    with pytest.raises(UsageError, match=f"already holds a demo project \\({part}\\)"):
        build_demo_project(tmp_path, seed=0, n_per_class=5)


def test_a_votes_file_alone_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "votes.csv").write_text("item,annotator,label\n")

    with pytest.raises(UsageError, match="already holds a demo project \\(votes.csv\\)"):
        build_demo_project(tmp_path, seed=0, n_per_class=5)
    assert (tmp_path / "labels" / "votes.csv").read_text() == "item,annotator,label\n"


def test_the_audio_and_text_parts_are_built_beside_the_images(demo: DemoProject) -> None:
    assert demo.audio is not None and demo.text is not None
    assert demo.audio.folder == demo.root / "audio"
    assert demo.text.manifest == demo.root / "text" / "texts.csv"
    parts = demo.planted_by_part()
    assert list(parts) == ["image", "audio", "text", "drift"] + (
        ["eval"] if demo.evaluation is not None else []
    )
    assert parts["image"] is demo.planted
    assert parts["audio"] == demo.audio.planted and parts["text"] == demo.text.planted
    assert parts["drift"] == {"brightness_shift": [], "new_camera": []}
    assert demo.votes == demo.root / "labels" / "votes.csv" and demo.votes.is_file()
    assert demo.incoming == demo.root / "incoming" and demo.incoming.is_dir()


@pytest.mark.parametrize("n_per_class", [4, 171])
def test_n_per_class_out_of_range_is_a_usage_error(tmp_path: Path, n_per_class: int) -> None:
    with pytest.raises(UsageError, match="n_per_class must be between 5 and 170"):
        build_demo_project(tmp_path, n_per_class=n_per_class)
