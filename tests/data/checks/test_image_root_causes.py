"""Image checks on probed pictures: each sample under its root cause, judged on the dataset."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.data.checks.image_samples import ROOT_CAUSES
from dlqa.data.probes.image import probe_image_bytes
from tests.data.checks.conftest import build_profile
from tests.data.probes.conftest import draw_structured_image


def run(check_id, profile, **overrides):
    spec = get_spec(check_id)
    return spec.func(profile, spec.resolve_params(overrides))


def ids(result):
    return [item["id"] for ev in result.evidence for item in ev.items]


def probed(name: str, image: Image.Image, fmt: str = "PNG") -> dict:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return {"sample_id": name, **probe_image_bytes(buffer.getvalue()), "sha256": name}


def textured(contrast: float, seed: int = 0, size: int = 256) -> Image.Image:
    """Fine random texture of a given luma standard deviation around mid-gray."""
    rng = np.random.default_rng(seed)
    pixels = 128 + rng.normal(0, contrast, (size, size))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L").convert("RGB")


def flagged_by(profile) -> dict[str, list[str]]:
    return {cause.check_id: ids(run(cause.check_id, profile)) for cause in ROOT_CAUSES}


def test_a_black_frame_is_dark_and_nothing_else():
    black = Image.new("RGB", (320, 240))
    profile = build_profile(
        [probed("black", black), probed("photo", draw_structured_image(320, 240))]
    )
    assert flagged_by(profile) == {
        "data.dark": ["black"],
        "data.bright": [],
        "data.low_information": [],
        "data.low_contrast": [],
        "data.blurry": [],
    }
    # the later checks would have flagged it on their own rule
    assert run("data.low_information", profile).status is Status.PASS


def test_a_white_frame_is_bright_and_a_gray_one_blank():
    rows = [
        probed("white", Image.new("RGB", (200, 200), (255, 255, 255))),
        probed("gray", Image.new("RGB", (200, 200), (128, 128, 128))),
    ]
    found = flagged_by(build_profile(rows))
    assert found["data.bright"] == ["white"]
    assert found["data.low_information"] == ["gray"]
    assert found["data.low_contrast"] == found["data.blurry"] == found["data.dark"] == []


def test_an_icon_on_white_is_not_too_bright_nor_blank():
    icon = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(icon).ellipse((30, 30, 66, 66), outline=(60, 60, 60), width=3)
    found = flagged_by(build_profile([probed("icon", icon)]))
    assert all(flagged == [] for flagged in found.values()), found


def test_sharp_low_contrast_texture_is_not_blurry_but_a_blurred_photo_is():
    photo = draw_structured_image(640, 480, seed=3)
    rows = [
        probed("faint_texture", textured(12.0)),
        probed("photo", photo, "JPEG"),
        # sigma 6 px at 640 px is ~2 px at the 192 px working size
        probed("blurred", photo.filter(ImageFilter.GaussianBlur(6)), "JPEG"),
    ]
    profile = build_profile(rows)
    assert ids(run("data.blurry", profile)) == ["blurred"]
    assert rows[0]["relative_sharpness"] > 1.0 and rows[0]["contrast"] < 15


@pytest.mark.parametrize("contrast", [12.0, 40.0])
def test_relative_sharpness_does_not_depend_on_contrast(contrast):
    row = probed("t", textured(contrast))
    assert row["relative_sharpness"] == pytest.approx(
        probed("u", textured(40.0))["relative_sharpness"], rel=0.15
    )  # noqa: E501


def test_red_ball_on_gray_is_colour_and_gray_stored_as_rgb_is_grayscale():
    ball = Image.new("RGB", (256, 256), (128, 128, 128))
    ImageDraw.Draw(ball).ellipse((108, 108, 148, 148), fill=(220, 20, 20))  # 2 % of the image
    gray = draw_structured_image(256, 256).convert("L").convert("RGB")
    rows = [
        probed("ball", ball),
        probed("gray", gray, "JPEG"),
        probed("photo", draw_structured_image(256, 256)),
    ]
    assert rows[0]["colorfulness"] < 6  # the mean says gray; the 99th percentile does not
    assert ids(run("data.grayscale", build_profile(rows))) == ["gray"]


def test_a_mode_l_image_among_rgb_ones_is_a_channel_mode_mismatch():
    rgb = [probed(f"c{i}", draw_structured_image(128, 128, seed=i)) for i in range(5)]
    gray = probed("gray", draw_structured_image(128, 128, seed=9).convert("L"))
    result = run("data.channel_mode", build_profile([*rgb, gray]))
    assert ids(result) == ["gray"] and result.status is Status.WARN
    assert "dataset that is 83.33% colour" in result.evidence[0].items[0]["reason"]
    assert run("data.channel_mode", build_profile(rgb)).status is Status.PASS
    # the other way round: the one colour image among gray ones is named
    grays = [probed(f"g{i}", draw_structured_image(64, 64, seed=i).convert("L")) for i in range(4)]
    assert ids(run("data.channel_mode", build_profile([*grays, rgb[0]]))) == ["c0"]


def test_size_is_odd_relative_to_the_dataset():
    photos = [
        {"sample_id": f"p{i}", "width": 800 + 7 * i, "height": 600 + 5 * i} for i in range(30)
    ]
    small = {"sample_id": "small", "width": 30, "height": 30}
    assert ids(run("data.odd_size", build_profile([*photos, small]))) == ["small"]
    digits = [{"sample_id": f"d{i}", "width": 28, "height": 28} for i in range(30)]
    assert run("data.odd_size", build_profile(digits)).status is Status.PASS
    # an absolute floor on top, for those who want one
    assert ids(run("data.odd_size", build_profile(digits[:3]), min_side=32)) == ["d0", "d1", "d2"]


def test_exif_orientation_6_measures_rotated():
    photo = draw_structured_image(400, 300)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    row = probe_image_bytes(buffer.getvalue())
    assert (row["width"], row["height"]) == (300, 400)
    assert row["aspect_ratio"] == pytest.approx(0.75)
    # and it hashes like the upright picture
    upright = probed("u", photo.transpose(Image.Transpose.ROTATE_270), "JPEG")
    assert bin(row["phash"] ^ upright["phash"]).count("1") <= 4
