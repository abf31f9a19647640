"""Build the demo project: photo-like digit images in split/class folders, with planted problems.

The images come from scikit-learn's bundled 8x8 digits (no download), rendered photo-like by
``digit_render.py``, which keeps ordinary images far apart under the perceptual hash so that
every near-duplicate a check reports in the demo is one that was planted on purpose. Beside the
images: annotators' votes on some of them and an incoming folder from a brighter camera
(``change_parts.py``), and the audio and text parts.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dlqa.core.errors import UsageError
from dlqa.demo.audio_part import AudioPart, build_audio_part
from dlqa.demo.change_parts import INCOMING_DIR, VOTES_FILE, write_incoming, write_votes
from dlqa.demo.deploy_part import deploy_config_text
from dlqa.demo.digit_render import IMAGE_SIZE, DistinctRenderer, encode_jpeg
from dlqa.demo.embeddings import EMBEDDINGS_FILE, write_image_embeddings
from dlqa.demo.eval_part import (
    EVAL_DIR,
    MODEL_FILE,
    EvalPart,
    build_eval_part,
    eval_config_text,
    plant_two_meaning_scans,
)
from dlqa.demo.gates import gates_toml
from dlqa.demo.naming import NameDealer
from dlqa.demo.text_part import TextPart, build_text_part
from dlqa.demo.ui_part import REVIEW_DIR

CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PLANTED_PROBLEMS = (
    "mislabeled",
    "exact_duplicates",
    "near_duplicate",
    "split_leakage",
    "corrupt",
    "format_mismatch",
    "dark",
    "label_error",
)
TRAIN_FRACTION = 0.8
NEAR_DUPLICATE_SCALE = 0.9
NEAR_DUPLICATE_JPEG_QUALITY = 80
CORRUPT_KEEP_FRACTION = 0.6  # the truncated JPEG keeps this share of its bytes
# Two images per class are kept spare (plants); the rarest digit class has 174 images.
MIN_PER_CLASS, MAX_PER_CLASS = 5, 170


@dataclass(frozen=True)
class DemoProject:
    root: Path  # project folder, holds dlqa.toml, data/ and (unless left out) audio/ and text/
    data_dir: Path  # root / "data"
    # problem name -> sample ids (relative to data_dir, POSIX) that a check must flag. The first id
    # is the planted file; for copies the second is the original it was copied from.
    planted: dict[str, list[str]]
    audio: AudioPart | None = None  # root / "audio", profiled as a run of its own
    text: TextPart | None = None  # root / "text" / "texts.csv", likewise
    votes: Path | None = None  # root / "labels/votes.csv": annotators' votes ([labels])
    incoming: Path | None = None  # root / "incoming": test images from a brighter camera
    # root / "features/digits.parquet": image embeddings for data.label_errors (needs torch)
    embeddings: Path | None = None
    # root / "eval": the trained CNN's eval sets (needs torch, which trains the CNN)
    evaluation: EvalPart | None = None

    def planted_by_part(self) -> dict[str, dict[str, list[str]]]:
        """Part ("image", "audio", "text") -> its planted problems, for the parts built."""
        parts = {"image": self.planted}
        if self.embeddings is None:  # without torch no extractor: nothing judges these
            parts["image"] = {k: v for k, v in self.planted.items() if k != "label_error"}
        if self.audio is not None:
            parts["audio"] = self.audio.planted
        if self.text is not None:
            parts["text"] = self.text.planted
        if self.incoming is not None:
            # Nothing is wrong with any one incoming image: the drift checks must fail.
            parts["drift"] = {"brightness_shift": [], "new_camera": []}
        if self.evaluation is not None:
            parts["eval"] = self.evaluation.planted
        return parts


def demo_config_text(embeddings: bool = True) -> str:
    """The demo project's ``dlqa.toml`` (``embeddings``: whether the image embeddings for
    data.label_errors were written; they need torch, as the trained CNN that [eval]
    evaluates does)."""
    label_errors = (
        f"""# Likely label errors: a k-fold model on the embeddings of a feature extractor (the
# demo's CNN trained on other digits; dlqa/demo/embeddings.py).
embeddings = "{EMBEDDINGS_FILE}"
"""
        if embeddings
        else ""
    )
    return (
        """\
# dlqa demo project: image classification on upscaled scikit-learn digits (data/), plus an
# audio part (audio/) and a text part (text/texts.csv) that `dlqa demo` profiles as runs of
# their own, as these commands do here:
#   dlqa data profile audio
#   dlqa data profile text/texts.csv --text-column text --id-column id
[project]
name = "digits-demo"

[data]
source = "data"
"""
        + label_errors
        + """
# Three annotators voted on some training images: `dlqa check` measures their agreement.
[labels]
agreement = "labels/votes.csv"

# A small CNN on these images (dlqa/demo/training.py): the sanity battery and the fast loop.
[train]
model = "dlqa.demo.training:build_model"
loss = "dlqa.demo.training:loss_fn"
optimizer = "dlqa.demo.training:make_optimizer"
batch = "dlqa.demo.training:one_batch"
fast = "dlqa.demo.training:fast_train"
"""
        + (eval_config_text(CLASS_NAMES) + deploy_config_text() if embeddings else "")
        + "\n"
        + gates_toml()
    )


def build_demo_project(
    root: Path,
    *,
    seed: int = 0,
    n_per_class: int = 60,
    overwrite: bool = False,
    audio_and_text: bool = True,
) -> DemoProject:
    """Write ``root/dlqa.toml`` and images in ``root/data/<split>/<class>/``; same seed, same bytes.

    ``n_per_class`` ordinary images per class (5..170) are split 80/20 into train and test; seven
    problems are planted on top (see :data:`PLANTED_PROBLEMS` and :attr:`DemoProject.planted`).
    With ``audio_and_text``, the audio part (``root/audio``, see ``audio_part.py``) and the text
    part (``root/text/texts.csv``, see ``text_part.py``) are built too, with their own plants.
    Existing parts or ``dlqa.toml`` are replaced only with ``overwrite=True``.
    """
    if not MIN_PER_CLASS <= n_per_class <= MAX_PER_CLASS:
        raise UsageError(
            f"n_per_class must be between {MIN_PER_CLASS} and {MAX_PER_CLASS}, got {n_per_class}",
            hint="the bundled digits hold about 175 images per class",
        )
    root = Path(root)
    data_dir = root / "data"
    _prepare_folder(root, data_dir, overwrite)

    rng = np.random.default_rng(seed)
    digits, targets = _load_digits()
    renderer = DistinctRenderer(rng)
    files: dict[str, bytes] = {}  # sample id -> file bytes, in a deterministic insertion order
    train_ids: dict[int, list[str]] = {}
    test_ids: list[str] = []
    names = NameDealer(rng, capacity=10 * (n_per_class + 10), prefix="img_")
    spare_digit: dict[int, np.ndarray] = {}
    second_spare: dict[int, np.ndarray] = {}
    unused: dict[int, np.ndarray] = {}  # digits the dataset does not show: the extractor's

    n_train = round(n_per_class * TRAIN_FRACTION)
    for class_index, class_name in enumerate(CLASS_NAMES):
        order = rng.permutation(np.flatnonzero(targets == class_index))
        spare_digit[class_index] = digits[order[n_per_class]]
        second_spare[class_index] = digits[order[n_per_class + 1]]
        unused[class_index] = digits[order[n_per_class + 2 :]]
        train_ids[class_index] = []
        for position, digit_index in enumerate(order[:n_per_class]):
            split = "train" if position < n_train else "test"
            as_png = rng.random() < 0.5
            sample_id = f"{split}/{class_name}/{names.next('.png' if as_png else '.jpg')}"
            files[sample_id] = renderer.render(digits[digit_index], as_png=as_png)
            if split == "train":
                train_ids[class_index].append(sample_id)
            else:
                test_ids.append(sample_id)

    planted = _plant_problems(rng, renderer, names, files, train_ids, spare_digit, second_spare)
    # The evaluation part's two-meaning class ("four" also means sideways scans): planted in
    # the training images too, so that the CNN learns both kinds. Not a data problem.
    plant_two_meaning_scans(files, renderer.render, names.next, unused, CLASS_NAMES)
    for sample_id, content in files.items():
        path = data_dir / sample_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    embeddings = write_image_embeddings(root, data_dir, unused, seed)
    evaluation = build_eval_part(root, unused, CLASS_NAMES, seed) if embeddings else None
    (root / "dlqa.toml").write_text(demo_config_text(embeddings is not None), encoding="utf-8")
    ordinary_train = [i for ids in train_ids.values() for i in ids if i not in planted_ids(planted)]
    votes = write_votes(root, ordinary_train, CLASS_NAMES, rng)
    incoming = write_incoming(root, data_dir, test_ids)
    if not audio_and_text:
        return DemoProject(
            root=root,
            data_dir=data_dir,
            planted=planted,
            votes=votes,
            incoming=incoming,
            embeddings=embeddings,
            evaluation=evaluation,
        )
    return DemoProject(
        root=root,
        data_dir=data_dir,
        planted=planted,
        audio=build_audio_part(root, seed=seed),
        text=build_text_part(root, seed=seed),
        votes=votes,
        incoming=incoming,
        embeddings=embeddings,
        evaluation=evaluation,
    )


def planted_ids(planted: dict[str, list[str]]) -> set[str]:
    return {sample_id for ids in planted.values() for sample_id in ids}


def _plant_problems(
    rng: np.random.Generator,
    renderer: DistinctRenderer,
    names: NameDealer,
    files: dict[str, bytes],
    train_ids: dict[int, list[str]],
    spare_digit: dict[int, np.ndarray],
    second_spare: dict[int, np.ndarray],
) -> dict[str, list[str]]:
    # Each plant gets a class of its own (eight of the ten), so plants never interact.
    source_class, target_class, duplicate_class, near_class, leak_class, *fresh_classes = (
        int(c) for c in rng.permutation(len(CLASS_NAMES))
    )
    corrupt_class, mismatch_class, dark_class = fresh_classes[:3]
    originals = {
        c: train_ids[c][int(rng.integers(len(train_ids[c])))]
        for c in (source_class, duplicate_class, near_class, leak_class)
    }

    def add(split: str, class_index: int, extension: str, content: bytes) -> str:
        sample_id = f"{split}/{CLASS_NAMES[class_index]}/{names.next(extension)}"
        files[sample_id] = content
        return sample_id

    def extension_of(sample_id: str) -> str:
        return Path(sample_id).suffix

    planted: dict[str, list[str]] = {}
    original = originals[source_class]
    copy = add("train", target_class, extension_of(original), files[original])
    planted["mislabeled"] = [copy, original]

    original = originals[duplicate_class]
    copy = add("train", duplicate_class, extension_of(original), files[original])
    planted["exact_duplicates"] = [copy, original]

    original = originals[near_class]
    with Image.open(io.BytesIO(files[original])) as decoded:
        smaller_size = round(IMAGE_SIZE * NEAR_DUPLICATE_SCALE)
        smaller = decoded.convert("RGB").resize(
            (smaller_size, smaller_size), Image.Resampling.BICUBIC
        )
    copy = add("train", near_class, ".jpg", encode_jpeg(smaller, NEAR_DUPLICATE_JPEG_QUALITY))
    planted["near_duplicate"] = [copy, original]

    original = originals[leak_class]
    copy = add("test", leak_class, extension_of(original), files[original])
    planted["split_leakage"] = [copy, original]

    whole_jpeg = renderer.render(spare_digit[corrupt_class], as_png=False)
    truncated = whole_jpeg[: int(len(whole_jpeg) * CORRUPT_KEEP_FRACTION)]
    planted["corrupt"] = [add("train", corrupt_class, ".jpg", truncated)]

    png_bytes = renderer.render(spare_digit[mismatch_class], as_png=True)
    planted["format_mismatch"] = [add("train", mismatch_class, ".jpg", png_bytes)]

    dark_png = renderer.render(spare_digit[dark_class], as_png=True, darken=True)
    planted["dark"] = [add("train", dark_class, ".png", dark_png)]

    # Filed under the wrong class: a new image of each of the two classes left, in the
    # other's folder. Copies of nothing, so only a model of what each digit looks like can
    # find them (the mislabeled copy above is found by its duplicate).
    first, second = fresh_classes[3:5]
    planted["label_error"] = [
        add("train", filed_as, ".png", renderer.render(second_spare[shown], as_png=True))
        for shown, filed_as in ((first, second), (second, first))
    ]
    return planted


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported here: only the demo needs scikit-learn

    bunch = load_digits()
    return np.asarray(bunch.images), np.asarray(bunch.target)


def _prepare_folder(root: Path, data_dir: Path, overwrite: bool) -> None:
    config = root / "dlqa.toml"
    parts = (
        data_dir,
        root / "audio",
        root / "text",
        root / INCOMING_DIR,
        root / VOTES_FILE,
        root / EMBEDDINGS_FILE,
        root / EVAL_DIR,
        root / MODEL_FILE,
        root / REVIEW_DIR,
    )
    taken = [p for p in (*parts, config) if p.exists() and (p.is_file() or any(p.iterdir()))]
    if taken and not overwrite:
        raise UsageError(
            f"{root} already holds a demo project ({', '.join(p.name for p in taken)})",
            hint="choose an empty folder, or remove the existing data, audio and text folders "
            "and dlqa.toml",
        )
    for part in parts:
        if part.is_dir():
            shutil.rmtree(part)
        elif part.exists():
            part.unlink()
    root.mkdir(parents=True, exist_ok=True)
