"""Different objects on the same layout are not near-duplicates; copies still are."""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from dlqa.core.registry import get_spec
from dlqa.data.probes.image import probe_image_bytes
from tests.data.checks.conftest import build_profile
from tests.data.probes.conftest import draw_structured_image


def card(rank: int, suit: str = "hearts", colour=(200, 20, 30)) -> Image.Image:
    """A playing card on green baize: frame, corner index, and ``rank`` pips of a suit (round
    "hearts" or pointed "diamonds") in two columns."""
    image = Image.new("RGB", (250, 350), (34, 110, 60))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((6, 6, 243, 343), radius=18, fill=(250, 250, 245), outline=(90,) * 3)
    draw.rectangle((18, 18, 40, 48), fill=colour)
    draw.rectangle((209, 301, 231, 331), fill=colour)
    # an ace has one large pip in the middle, other ranks small pips in two columns
    pips = [(125, 175, 55)] if rank == 1 else [
        (85 if k % 2 == 0 else 165, 70 + (k // 2) * 55, 20) for k in range(rank)
    ]  # fmt: skip
    for x, y, r in pips:
        if suit == "hearts":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.polygon([(x, y - 1.2 * r), (x + r, y), (x, y + 1.2 * r), (x - r, y)], fill=colour)
    return image


def pasted(shape: str) -> Image.Image:
    image = draw_structured_image(320, 240, seed=5)
    draw = ImageDraw.Draw(image)
    box = (140, 90, 190, 140)
    if shape == "disc":
        draw.ellipse(box, fill=(240, 200, 20))
    else:
        draw.polygon([(165, 88), (192, 140), (138, 140)], fill=(240, 200, 20))
    return image


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def near_pairs(images: dict[str, Image.Image], **overrides) -> set[tuple[str, str]]:
    rows = [
        {"sample_id": name, **probe_image_bytes(encoded(image)), "sha256": name}
        for name, image in images.items()
    ]
    spec = get_spec("data.near_duplicates")
    result = spec.func(build_profile(rows), spec.resolve_params(overrides))
    return {tuple(item["ids"]) for ev in result.evidence for item in ev.items}


def copies(original: Image.Image) -> dict[str, Image.Image]:
    width, hdiamonds = original.size
    dx, dy = round(width * 0.025), round(hdiamonds * 0.025)
    shifted = np.asarray(original, dtype=np.int16) + 26
    return {
        "resized": original.resize((width // 2, hdiamonds // 2), Image.Resampling.LANCZOS),
        "jpeg": Image.open(io.BytesIO(encoded(original, "JPEG", quality=30))),
        "brighter": Image.fromarray(shifted.clip(0, 255).astype(np.uint8)),
        "darker": ImageEnhance.Brightness(original).enhance(0.85),
        "cropped": original.crop((dx, dy, width - dx, hdiamonds - dy)),  # 2.5 % a side
    }


def test_two_different_cards_are_not_near_duplicates_but_their_copies_are():
    # the ace of the other red suit: only the pip's shape differs
    hearts, diamonds = card(1, "hearts"), card(1, "diamonds")
    assert near_pairs({"hearts": hearts, "diamonds": diamonds}, max_local_difference=255.0)
    assert near_pairs({"hearts": hearts, "diamonds": diamonds}) == set()
    found = near_pairs({"hearts": hearts, **copies(hearts)})
    assert {("hearts", name) for name in copies(hearts)} <= found


def test_two_objects_pasted_on_one_photograph_are_not_near_duplicates():
    disc, triangle = pasted("disc"), pasted("triangle")
    assert near_pairs({"disc": disc, "triangle": triangle}, max_local_difference=255.0)
    assert near_pairs({"disc": disc, "triangle": triangle}) == set()
    found = near_pairs({"disc": disc, **copies(disc)})
    assert {("disc", name) for name in copies(disc)} <= found
