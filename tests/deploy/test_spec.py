"""The serving preprocessing spec: every key applied as documented, bad specs named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dlqa.core.errors import UsageError
from dlqa.deploy import INTERPOLATIONS, ImagePreprocessing


def gradient_image(height: int = 40, width: int = 60) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 4 % 256, y * 6 % 256, (x + y) * 2 % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def test_defaults_scale_to_unit_range_in_nchw():
    image = gradient_image()
    out = ImagePreprocessing().apply(image)
    assert out.shape == (3, 40, 60) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.asarray(image, np.float32).transpose(2, 0, 1) / 255.0)


def test_resize_shorter_side_keeps_the_aspect_and_crop_takes_the_centre():
    spec = ImagePreprocessing(resize=20, crop=(16, 16), layout="NHWC")
    out = spec.apply(gradient_image(40, 60))
    assert out.shape == (16, 16, 3) == spec.output_shape(40, 60)
    resized = gradient_image(40, 60).resize((30, 20), Image.Resampling.BILINEAR)
    expected = np.asarray(resized, np.float32)[2:18, 7:23] / 255.0  # (20-16)/2, (30-16)/2
    np.testing.assert_allclose(out, expected)


def test_resize_to_height_and_width_with_each_interpolation():
    image = gradient_image()
    for name in INTERPOLATIONS:
        out = ImagePreprocessing(resize=(10, 12), interpolation=name).apply(image)
        method = getattr(Image.Resampling, name.upper())
        expected = np.asarray(image.resize((12, 10), method), np.float32) / 255.0
        np.testing.assert_allclose(out, expected.transpose(2, 0, 1), err_msg=name)


def test_bgr_grayscale_and_normalisation():
    image = gradient_image()
    rgb = ImagePreprocessing(scale=1.0).apply(image)
    bgr = ImagePreprocessing(scale=1.0, channel_order="BGR").apply(image)
    np.testing.assert_array_equal(bgr, rgb[::-1])
    gray = ImagePreprocessing(color_mode="L", mean=[0.5], std=[0.25]).apply(image)
    luma = np.asarray(image.convert("L"), np.float32) / 255.0
    np.testing.assert_allclose(gray[0], (luma - 0.5) / 0.25, atol=1e-5)
    normalised = ImagePreprocessing(mean=[0.1, 0.2, 0.3], std=[0.5, 0.5, 0.5]).apply(image)
    np.testing.assert_allclose(normalised[2], (rgb[2] / 255.0 - 0.3) / 0.5, atol=1e-5)


def test_rgba_and_palette_images_are_converted_to_the_colour_mode():
    rgba = gradient_image().convert("RGBA")
    assert ImagePreprocessing().apply(rgba).shape == (3, 40, 60)
    assert ImagePreprocessing(color_mode="L").apply(rgba.convert("P")).shape == (1, 40, 60)


def test_round_trip_through_json():
    spec = ImagePreprocessing(resize=256, crop=(224, 224), mean=[0.485, 0.456, 0.406],
                              std=[0.229, 0.224, 0.225], interpolation="bicubic")  # fmt: skip
    again = ImagePreprocessing.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resise": 256}, "resise: unknown key"),
        ({"interpolation": "area"}, "interpolation"),
        ({"mean": [0.5, 0.5, 0.5]}, "mean and std together"),
        ({"mean": [0.5, 0.5], "std": [1, 1]}, "2 values"),
        ({"std": [0.0], "mean": [0.0]}, "std must be positive"),
        ({"resize": 0}, "positive pixel counts"),
        ({"color_mode": "L", "channel_order": "BGR"}, "BGR"),
        ({"layout": "CHW"}, "layout"),
        ("bilinear", "expected a mapping"),
    ],
)
def test_bad_specs_are_usage_errors_naming_the_key(data, message):
    with pytest.raises(UsageError, match=message):
        ImagePreprocessing.from_dict(data)


def test_a_crop_larger_than_the_image_is_a_usage_error():
    with pytest.raises(UsageError, match="larger than the resized image"):
        ImagePreprocessing(crop=(64, 64)).apply(gradient_image(40, 60))


def test_audio_spec_resamples_mixes_and_frames() -> None:
    from dlqa.deploy.spec import AudioPreprocessing

    spec = AudioPreprocessing(sample_rate=8000, mono=True, duration=0.5)
    seconds = np.arange(16000) / 16000
    stereo = np.stack([np.sin(2 * np.pi * 440 * seconds), np.zeros(16000)], axis=1)
    out = spec.apply(stereo, 16000)
    assert out.shape == (1, 4000) and out.dtype == np.float32
    # The mean of the channels, at the new rate: a 440 Hz tone at half amplitude.
    assert abs(float(np.abs(out[0, 100:3900]).max()) - 0.5) < 0.02
    short = spec.apply(np.ones(800), 8000)
    assert short.shape == (1, 4000) and short[0, 799] == 1 and short[0, 800] == 0


def test_read_preprocessing_names_the_modality_and_keys() -> None:
    from dlqa.deploy.spec import TextPreprocessing, read_preprocessing

    assert isinstance(read_preprocessing("text", {"max_length": 8}), TextPreprocessing)
    with pytest.raises(UsageError, match="unknown modality 'video'"):
        read_preprocessing("video", {})
    with pytest.raises(UsageError, match="preprocessing.rate: unknown key"):
        read_preprocessing("audio", {"sample_rate": 8000, "rate": 1})
    with pytest.raises(UsageError, match="max_length"):
        read_preprocessing("text", {"max_length": 0})
