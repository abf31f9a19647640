"""Image probe on constructed images whose true properties are known."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFilter

from dlqa.core.errors import UsageError
from dlqa.data.probes.image import (
    GRAYSCALE_TOLERANCE,
    WORKING_LONG_SIDE,
    pixel_statistics,
    probe_array,
    probe_image_bytes,
    to_working_image,
)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def flat_rgb(value: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.new("RGB", size, (value, value, value))


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def test_black_image_is_dark_and_white_image_is_bright() -> None:
    black = probe_image_bytes(encode(flat_rgb(0), "PNG"))
    white = probe_image_bytes(encode(flat_rgb(255), "PNG"))
    assert black["brightness"] < 1.0
    assert white["brightness"] > 254.0


def test_flat_gray_has_no_contrast_no_entropy_no_edges() -> None:
    row = probe_image_bytes(encode(flat_rgb(128), "PNG"))
    assert row["brightness"] == pytest.approx(128, abs=0.5)
    assert row["contrast"] < 0.5
    assert row["entropy"] < 0.01
    assert row["sharpness"] < 0.01


def test_uniform_noise_has_near_maximal_entropy_and_high_contrast() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    row = probe_image_bytes(encode(Image.fromarray(noise, "L"), "PNG"))
    assert row["entropy"] > 7.5
    assert row["contrast"] > 60  # a uniform 0..255 distribution has std ~74


def test_half_black_half_white_has_known_statistics() -> None:
    pixels = np.zeros((100, 200), dtype=np.uint8)
    pixels[:, 100:] = 255
    row = probe_array(pixels)
    assert row["brightness"] == pytest.approx(127.5, abs=0.5)
    assert row["contrast"] == pytest.approx(127.5, abs=0.5)
    assert row["entropy"] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(("size", "fmt"), [((512, 384), "PNG"), ((1100, 800), "JPEG")])
def test_blurred_copy_is_less_sharp(
    structured_image: Callable[..., Image.Image], size: tuple[int, int], fmt: str
) -> None:
    original = structured_image(*size, seed=1)
    blurred = original.filter(ImageFilter.GaussianBlur(3))
    sharp_row = probe_image_bytes(
        encode(original, fmt, quality=92) if fmt == "JPEG" else encode(original, fmt)
    )
    blur_row = probe_image_bytes(
        encode(blurred, fmt, quality=92) if fmt == "JPEG" else encode(blurred, fmt)
    )
    assert blur_row["sharpness"] < 0.5 * sharp_row["sharpness"]


def test_gray_stored_as_rgb_jpeg_is_grayscale_and_colour_image_is_not(
    structured_image: Callable[..., Image.Image],
) -> None:
    colour = structured_image(640, 480, seed=2)
    gray_as_rgb = colour.convert("L").convert("RGB")
    gray_row = probe_image_bytes(encode(gray_as_rgb, "JPEG", quality=75))
    colour_row = probe_image_bytes(encode(colour, "JPEG", quality=75))
    assert gray_row["mode"] == "RGB"
    assert gray_row["is_grayscale"] is True
    assert gray_row["colorfulness"] < GRAYSCALE_TOLERANCE
    assert colour_row["is_grayscale"] is False
    assert colour_row["colorfulness"] > 20


def test_faint_tint_is_not_grayscale() -> None:
    luma = np.random.default_rng(3).integers(40, 220, (120, 160)).astype(np.float32)
    sepia = np.stack([luma, luma * 0.95, luma * 0.85], axis=-1).astype(np.uint8)
    assert probe_array(sepia)["is_grayscale"] is False


def test_jpeg_draft_decode_matches_a_full_decode(
    structured_image: Callable[..., Image.Image],
) -> None:
    for seed, size in enumerate([(1200, 900), (800, 1000), (640, 640), (1023, 700)]):
        data = encode(structured_image(*size, seed=seed), "JPEG", quality=90)
        drafted = probe_image_bytes(data)
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # no draft(): every pixel decoded
            full = pixel_statistics(*to_working_image(image))
        assert (drafted["width"], drafted["height"]) == size  # header size, not the draft size
        for name in ("brightness", "contrast", "colorfulness"):
            assert drafted[name] == pytest.approx(full[name], abs=2.0), name
        assert drafted["entropy"] == pytest.approx(full["entropy"], abs=0.2)
        assert drafted["sharpness"] == pytest.approx(full["sharpness"], rel=0.5)
        assert hamming(drafted["phash"], full["phash"]) <= 6


def test_original_size_mode_channels_and_aspect_are_recorded(
    structured_image: Callable[..., Image.Image],
) -> None:
    row = probe_image_bytes(encode(structured_image(900, 600).convert("RGBA"), "PNG"))
    assert (row["width"], row["height"], row["mode"], row["channels"]) == (900, 600, "RGBA", 4)
    assert row["aspect_ratio"] == pytest.approx(1.5)
    assert row["error"] is None


def _mode_images() -> list[tuple[str, Image.Image, str, float]]:
    """(mode, image, format, expected brightness) for every mode the probe must handle."""
    half = np.zeros((40, 60), dtype=np.uint8)
    half[:, 30:] = 255
    palette = Image.new("P", (60, 40))
    palette.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    palette.paste(1, (30, 0, 60, 40))
    return [
        ("L", Image.new("L", (60, 40), 100), "PNG", 100.0),
        ("L", Image.new("L", (60, 40), 100), "JPEG", 100.0),
        ("LA", Image.new("LA", (60, 40), (100, 30)), "PNG", 100.0),
        ("P", palette, "PNG", 127.5),
        ("RGBA", Image.new("RGBA", (60, 40), (100, 100, 100, 0)), "PNG", 100.0),
        ("CMYK", Image.new("CMYK", (60, 40), (0, 0, 0, 255)), "JPEG", 0.0),
        ("CMYK", Image.new("CMYK", (60, 40), (0, 0, 0, 0)), "TIFF", 255.0),
        ("I;16", Image.fromarray(np.full((40, 60), 128 * 257, dtype=np.uint16)), "PNG", 128.0),
        ("I", Image.fromarray(np.full((40, 60), 64 * 257, dtype=np.int32)), "TIFF", 64.0),
        ("F", Image.fromarray(np.full((40, 60), 0.5, dtype=np.float32)), "TIFF", 127.5),
        ("1", Image.fromarray(half).convert("1"), "PNG", 127.5),
        ("1", Image.fromarray(half).convert("1"), "BMP", 127.5),
    ]


@pytest.mark.parametrize(("mode", "image", "fmt", "brightness"), _mode_images())
def test_each_mode_decodes_with_sensible_luma(
    mode: str, image: Image.Image, fmt: str, brightness: float
) -> None:
    row = probe_image_bytes(encode(image, fmt))
    assert row["error"] is None, row["error_detail"]
    assert row["mode"] == mode
    assert (row["width"], row["height"]) == (60, 40)
    assert row["brightness"] == pytest.approx(brightness, abs=3.0)
    assert row["phash"] is not None


def test_progressive_and_small_jpegs_decode(structured_image: Callable[..., Image.Image]) -> None:
    big = probe_image_bytes(encode(structured_image(900, 700), "JPEG", progressive=True))
    small = probe_image_bytes(encode(flat_rgb(60, (40, 30)), "JPEG"))
    assert big["error"] is None and (big["width"], big["height"]) == (900, 700)
    assert small["brightness"] == pytest.approx(60, abs=1.5)
    assert small["is_grayscale"] is True


def test_animated_gif_is_probed_on_its_first_frame() -> None:
    frames = [flat_rgb(0, (50, 50)), flat_rgb(255, (50, 50))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    row = probe_image_bytes(data)
    assert row["error"] is None
    assert row["brightness"] < 1.0


def test_large_image_is_measured_at_the_working_size() -> None:
    # A 1-pixel checkerboard is all edges; at the working size it is averaged to flat gray,
    # which is how sharpness stays comparable across resolutions.
    board = (np.indices((WORKING_LONG_SIDE * 4, WORKING_LONG_SIDE * 4)).sum(axis=0) % 2) * 255
    row = probe_image_bytes(encode(Image.fromarray(board.astype(np.uint8), "L"), "PNG"))
    assert row["brightness"] == pytest.approx(127.5, abs=1)
    assert row["sharpness"] < 1.0


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_file_is_truncated(
    structured_image: Callable[..., Image.Image], fmt: str
) -> None:
    data = encode(structured_image(300, 200), fmt)
    row = probe_image_bytes(data[: len(data) // 2])
    assert row["error"] == "truncated", row["error_detail"]
    assert row["brightness"] is None


def test_random_bytes_are_corrupt() -> None:
    row = probe_image_bytes(np.random.default_rng(4).bytes(5000))
    assert row["error"] == "corrupt"
    assert "UnidentifiedImageError" in row["error_detail"]


def test_jpeg_with_garbage_after_the_header_is_an_error(
    structured_image: Callable[..., Image.Image],
) -> None:
    data = bytearray(encode(structured_image(300, 200), "JPEG"))
    data[600:] = np.random.default_rng(5).bytes(len(data) - 600)
    row = probe_image_bytes(bytes(data))
    assert row["error"] in ("corrupt", "truncated")


def test_decompression_bomb_is_corrupt_with_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    row = probe_image_bytes(encode(flat_rgb(10, (50, 50)), "PNG"))
    assert row["error"] == "corrupt"
    assert "DecompressionBomb" in row["error_detail"]


def test_probe_array_matches_the_image_and_hashes_shape_and_pixels() -> None:
    pixels = np.random.default_rng(6).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    row = probe_array(pixels)
    assert (row["width"], row["height"], row["mode"], row["channels"]) == (40, 30, "RGB", 3)
    assert row["is_grayscale"] is False
    assert "file_size" not in row and "path" not in row
    same = probe_array(pixels.copy())
    reshaped = probe_array(pixels.reshape(40, 30, 3))
    assert same["sha256"] == row["sha256"]
    assert reshaped["sha256"] != row["sha256"]  # same bytes, different image
    assert probe_array(np.zeros((30, 40, 4), dtype=np.uint8))["mode"] == "RGBA"
    gray = probe_array(np.full((30, 40), 200, dtype=np.uint8))
    assert (gray["mode"], gray["colorfulness"], gray["is_grayscale"]) == ("L", 0.0, False)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((10, 10), dtype=np.float32), "uint8"),
        (np.zeros((3, 10, 10), dtype=np.uint8), "shape"),
        (np.zeros((10,), dtype=np.uint8), "shape"),
        (np.zeros((0, 10), dtype=np.uint8), "no pixels"),
    ],
)
def test_probe_array_rejects_what_is_not_an_image(array: np.ndarray, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        probe_array(array)
