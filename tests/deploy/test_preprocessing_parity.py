"""Preprocessing parity: planted train/serve skews are caught and named, matches pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dlqa.core.errors import UsageError
from dlqa.core.intervals import wilson_interval
from dlqa.core.results import Status
from dlqa.deploy.preprocessing_parity import preprocessing_parity_result
from dlqa.deploy.spec import ImagePreprocessing

torch.set_num_threads(1)

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SERVING = ImagePreprocessing(resize=32, interpolation="bilinear", crop=(28, 28), mean=MEAN, std=STD)


def natural_image(height: int, width: int, seed: int) -> np.ndarray:
    """Gradients, a few filled shapes and sensor-like noise: smooth areas and hard edges,
    so that every interpolation leaves its own fingerprint."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    base = np.stack([x * 200 + 30, y * 180 + 40, (1 - x) * 120 + y * 90], axis=-1)
    for _ in range(4):
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.08, 0.25)
        disc = (y - cy) ** 2 + (x - cx) ** 2 < r**2
        base[disc] = rng.uniform(0, 255, size=3)
    top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
    base[top : top + height // 4, left : left + width // 3] = rng.uniform(0, 255, size=3)
    base += rng.normal(0, 6, size=base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


def write_images(root: Path) -> list[Path]:
    """Four images of different sizes and aspect ratios, one RGBA and one grayscale."""
    rgb = [natural_image(48, 64, 1), natural_image(70, 45, 2), natural_image(52, 52, 3)]
    images = [Image.fromarray(rgb[0]), Image.fromarray(rgb[1])]
    alpha = np.full(rgb[2].shape[:2], 255, np.uint8)
    images.append(Image.fromarray(np.dstack([rgb[2], alpha]), "RGBA"))
    images.append(Image.fromarray(natural_image(44, 60, 4)).convert("L"))
    paths = []
    for index, image in enumerate(images):
        paths.append(root / f"img{index}.png")
        image.save(paths[-1])
    return paths


def resized_size(height: int, width: int, shorter: int) -> tuple[int, int]:
    if height <= width:
        return shorter, int(shorter * width / height)
    return int(shorter * height / width), shorter


def centre_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    top = int(round((pixels.shape[0] - size) / 2.0))
    left = int(round((pixels.shape[1] - size) / 2.0))
    return pixels[top : top + size, left : left + size]


def pil_training(
    interpolation=Image.Resampling.BILINEAR, crop: int | None = 28, normalise=True, bgr=False
):
    """A training transform written with PIL and numpy, as people write them."""

    def transform(image: Image.Image) -> np.ndarray:
        image = image.convert("RGB")
        height, width = resized_size(image.height, image.width, 32)
        pixels = np.asarray(image.resize((width, height), interpolation), np.float32) / 255.0
        if crop is not None:
            pixels = centre_crop(pixels, crop)
        if bgr:
            pixels = pixels[:, :, ::-1]
        if normalise:
            pixels = (pixels - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))

    return transform


def torch_training(image: Image.Image) -> torch.Tensor:
    """A training transform resizing with F.interpolate (bilinear, no antialias)."""
    pixels = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 255.0)
    height, width = resized_size(image.height, image.width, 32)
    tensor = pixels.permute(2, 0, 1)[None]
    tensor = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False)
    tensor = torch.from_numpy(centre_crop(tensor[0].permute(1, 2, 0).numpy(), 28).copy())
    tensor = (tensor - torch.tensor(MEAN)) / torch.tensor(STD)
    return tensor.permute(2, 0, 1)


def only_step(result) -> dict:
    steps = result.details["diagnosis"]
    assert len(steps) == 1, result.summary
    return steps[0]


def test_identical_pipelines_pass_with_a_rounding_sized_difference(files):
    result = preprocessing_parity_result(pil_training(), SERVING, files)
    assert result.status is Status.PASS, result.summary
    assert result.details["max_pixel_diff"] < 1e-5
    assert result.details["compared"] == 4 and result.evidence == []
    assert "reproduces the training transform on 4 files" in result.summary
    json.dumps(result.to_dict())


def test_bicubic_training_against_bilinear_serving_is_named(files):
    result = preprocessing_parity_result(pil_training(Image.Resampling.BICUBIC), SERVING, files)
    assert result.status is Status.FAIL
    step = only_step(result)
    assert (step["field"], step["serving"], step["training"]) == (
        "interpolation", "bilinear", "bicubic",
    )  # fmt: skip
    assert step["max_diff_before"] > 0.05 and step["max_diff_after"] < 1e-5
    assert "the training transform matches bicubic" in result.summary
    assert result.evidence[0].kind == "samples" and result.evidence[0].total == 4


def test_bgr_against_rgb_is_named(files):
    result = preprocessing_parity_result(pil_training(bgr=True), SERVING, files)
    step = only_step(result)
    assert result.status is Status.FAIL
    assert (step["field"], step["serving"], step["training"]) == ("channel_order", "RGB", "BGR")


def test_omitted_normalisation_is_named_both_ways(files):
    serving_without = SERVING.model_copy(update={"mean": None, "std": None})
    result = preprocessing_parity_result(pil_training(), serving_without, files)
    step = only_step(result)
    assert result.status is Status.FAIL and step["field"] == "normalisation"
    assert step["serving"] == "none" and "mean [0.485, 0.456, 0.406]" in step["training"]
    assert "std [0.229, 0.224, 0.225] (fitted)" in result.summary
    result = preprocessing_parity_result(pil_training(normalise=False), SERVING, files)
    assert only_step(result)["training"] == "none"


def test_missing_centre_crop_is_a_shape_mismatch_named_as_the_crop(files):
    serving_uncropped = SERVING.model_copy(update={"crop": None})
    result = preprocessing_parity_result(pil_training(), serving_uncropped, files)
    assert result.status is Status.FAIL
    assert "shapes differ on 4 of 4 files (training (3, 28, 28), serving (3, 32, 42))" in (
        result.summary
    )
    step = only_step(result)
    assert (step["field"], step["serving"], step["training"]) == ("crop", "none", "28x28 centre")
    assert step["max_diff_before"] is None and step["max_diff_after"] < 1e-5


def test_torch_interpolate_in_training_against_pillow_in_serving(files):
    result = preprocessing_parity_result(torch_training, SERVING, files)
    step = only_step(result)
    assert result.status is Status.FAIL
    assert step["field"] == "resize_library" and "interpolate (bilinear" in step["training"]
    assert step["max_diff_after"] < 1e-4


def test_a_skew_no_setting_explains_says_so(files):
    def noisy(image):
        out = pil_training()(image)
        return out + np.random.default_rng(0).normal(0, 0.05, out.shape).astype(np.float32)

    result = preprocessing_parity_result(noisy, SERVING, files)
    assert result.status is Status.FAIL and result.details["diagnosis"] == []
    assert "no single setting explains the difference" in result.summary


def tiny_cnn_predict():
    """A 1x1 convolution that passes each channel through, then global pooling: its top-1 is
    the brightest channel, so swapping red and blue changes it (a random tiny CNN tends to
    give every input the same class, and agree whatever the inputs)."""
    conv = torch.nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3)[:, :, None, None])
    model = torch.nn.Sequential(conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    return lambda batch: model(torch.from_numpy(batch))


def test_agreement_of_top1_predictions_with_its_wilson_interval(files):
    predict = tiny_cnn_predict()
    same = preprocessing_parity_result(pil_training(), SERVING, files, predict=predict)
    assert same.status is Status.PASS and same.value == 1.0 and same.n == 4
    assert same.interval == wilson_interval(4, 4) and same.threshold == 0.99
    skewed = preprocessing_parity_result(pil_training(bgr=True), SERVING, files, predict=predict)
    agreeing = skewed.details["agreement"]["agreeing"]
    assert skewed.status is Status.FAIL and agreeing < 4
    assert skewed.n == 4 and skewed.value == agreeing / 4
    assert skewed.interval == wilson_interval(agreeing, 4)
    rows = skewed.evidence[0].items
    assert {"training_prediction", "serving_prediction"} <= set(rows[0])


def test_an_unreadable_file_is_listed_not_a_crash(files, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    result = preprocessing_parity_result(pil_training(), SERVING, [*files, broken])
    assert result.status is Status.WARN, result.summary
    failed = result.evidence[0].items
    assert failed[0]["id"] == str(broken) and failed[0]["side"] == "decode"
    assert "1 file(s) not compared (decode failed)" in result.summary


def test_a_transform_returning_a_pil_image_is_named(files):
    with pytest.raises(UsageError, match=r"returned a PIL image \(mode RGB, 64x48\)"):
        preprocessing_parity_result(lambda image: image.convert("RGB"), SERVING, files)
    with pytest.raises(UsageError, match="returned a builtins.list"):
        preprocessing_parity_result(lambda image: [1, 2, 3], SERVING, files)


def test_a_transform_raising_on_one_file_fails_and_names_the_side(files):
    def picky(image):
        if image.mode == "L":
            raise ValueError("grayscale not supported")
        return pil_training()(image)

    result = preprocessing_parity_result(picky, SERVING, files, sample_ids=list("abcd"))
    assert result.status is Status.FAIL
    assert result.evidence[0].items == [
        {"id": "d", "side": "training", "reason": "ValueError: grayscale not supported"}
    ]


def test_two_planted_skews_are_named_as_a_pair(files):
    training = pil_training(Image.Resampling.BICUBIC, bgr=True)
    result = preprocessing_parity_result(training, SERVING, files)
    steps = result.details["diagnosis"]
    assert [(s["field"], s["training"]) for s in steps] == [
        ("channel_order", "BGR"), ("interpolation", "bicubic"),
    ]  # fmt: skip
    assert steps[0]["max_diff_after"] == steps[1]["max_diff_before"]
    assert steps[1]["max_diff_after"] < 1e-5


def test_predict_with_the_wrong_output_shape_is_named(files):
    def flat(batch):
        return np.zeros(len(batch))

    with pytest.raises(UsageError, match=r"predict returned shape \(4,\) for a batch of 4"):
        preprocessing_parity_result(pil_training(), SERVING, files, predict=flat)


def test_exif_rotation_is_applied_by_neither_side_but_counted(tmp_path):
    path = tmp_path / "portrait.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated by viewers
    Image.fromarray(natural_image(40, 56, 5)).save(path, exif=exif)
    result = preprocessing_parity_result(pil_training(), SERVING, [path])
    assert result.status is Status.PASS and result.details["exif_rotated_files"] == 1
    assert "1 file(s) carry an EXIF rotation neither side applies" in result.summary
