"""Hard negatives for near-duplicate detection: different objects on the same layout.

Two different playing cards (same card frame, corner indices and pip layout style; a
different rank or suit), and two different small objects pasted at the same place on the same
photograph (shapes of one colour, or two icons that the icon theme ships). Their perceptual
hashes are typically 0-10 bits apart: a hash sees the layout, not the object.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_RANKS = ("A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")
_SUITS = {"hearts": (200, 20, 30), "diamonds": (200, 20, 30), "spades": (20, 20, 20),
          "clubs": (20, 20, 20)}  # fmt: skip
# Pip positions per rank (as fractions of the card's inner area), the usual layouts.
_PIPS = {
    1: [(0.5, 0.5)],
    2: [(0.5, 0.15), (0.5, 0.85)],
    3: [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)],
    4: [(0.25, 0.15), (0.75, 0.15), (0.25, 0.85), (0.75, 0.85)],
}
_PIPS[5] = _PIPS[4] + [(0.5, 0.5)]
_PIPS[6] = _PIPS[4] + [(0.25, 0.5), (0.75, 0.5)]
_PIPS[7] = _PIPS[6] + [(0.5, 0.32)]
_PIPS[8] = _PIPS[7] + [(0.5, 0.68)]
_PIPS[9] = _PIPS[4] + [(0.25, 0.38), (0.75, 0.38), (0.25, 0.62), (0.75, 0.62), (0.5, 0.5)]
_PIPS[10] = _PIPS[9][:-1] + [(0.5, 0.27), (0.5, 0.73)]


def _suit_shape(draw: ImageDraw.ImageDraw, suit: str, x: float, y: float, r: float) -> None:
    colour = _SUITS[suit]
    if suit == "diamonds":
        draw.polygon([(x, y - r), (x + 0.7 * r, y), (x, y + r), (x - 0.7 * r, y)], fill=colour)
    elif suit == "hearts":
        draw.ellipse((x - r, y - r * 0.8, x, y + r * 0.1), fill=colour)
        draw.ellipse((x, y - r * 0.8, x + r, y + r * 0.1), fill=colour)
        draw.polygon([(x - r, y - r * 0.25), (x + r, y - r * 0.25), (x, y + r)], fill=colour)
    elif suit == "spades":
        draw.ellipse((x - r, y - r * 0.2, x, y + r * 0.6), fill=colour)
        draw.ellipse((x, y - r * 0.2, x + r, y + r * 0.6), fill=colour)
        draw.polygon([(x - r, y + r * 0.1), (x + r, y + r * 0.1), (x, y - r)], fill=colour)
        draw.polygon([(x, y + r * 0.2), (x - r * 0.4, y + r), (x + r * 0.4, y + r)], fill=colour)
    else:  # clubs
        for dx, dy in ((0, -0.45), (-0.45, 0.1), (0.45, 0.1)):
            cx, cy = x + dx * r, y + dy * r
            draw.ellipse((cx - r * 0.45, cy - r * 0.45, cx + r * 0.45, cy + r * 0.45), fill=colour)
        draw.polygon([(x, y), (x - r * 0.4, y + r), (x + r * 0.4, y + r)], fill=colour)


def playing_card(rank: str, suit: str, size: tuple[int, int] = (250, 350)) -> Image.Image:
    """A plain playing card: frame, corner indices and pips (court cards get a framed box)."""
    width, height = size
    image = Image.new("RGB", size, (34, 110, 60))  # the card lies on green baize
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((6, 6, width - 7, height - 7), radius=18, fill=(250, 250, 245),
                           outline=(90, 90, 90), width=2)  # fmt: skip
    font = ImageFont.load_default(size=int(height * 0.09))
    colour = _SUITS[suit]
    draw.text((16, 14), rank, fill=colour, font=font)
    draw.text((width - 16, height - 14), rank, fill=colour, font=font, anchor="rs")
    _suit_shape(draw, suit, 26, 14 + height * 0.14, height * 0.03)
    _suit_shape(draw, suit, width - 26, height - 14 - height * 0.14, height * 0.03)
    left, top, right, bottom = width * 0.2, height * 0.12, width * 0.8, height * 0.88
    count = _RANKS.index(rank) + 1
    if count <= 10:
        for fx, fy in _PIPS[count]:
            x, y = left + fx * (right - left), top + fy * (bottom - top)
            _suit_shape(draw, suit, x, y, height * (0.09 if count == 1 else 0.05))
    else:
        draw.rectangle((left, top, right, bottom), outline=colour, width=3)
        draw.text(((left + right) / 2, (top + bottom) / 2), rank, fill=colour,
                  font=ImageFont.load_default(size=int(height * 0.3)), anchor="mm")  # fmt: skip
        _suit_shape(draw, suit, left + 22, top + 24, height * 0.04)
    return image


def card_pairs(rng: np.random.Generator, count: int) -> list[tuple[Image.Image, Image.Image]]:
    """Pairs of different cards: a neighbouring rank of the same suit, or the same rank of
    the other suit of the same colour (the hardest: only the pips' shape differs)."""
    pairs = []
    suits = list(_SUITS)
    for _ in range(count):
        suit = suits[int(rng.integers(0, 4))]
        rank = int(rng.integers(0, len(_RANKS) - 1))
        if rng.random() < 0.5:
            other = (_RANKS[rank + 1], suit)
        else:
            twin = {"hearts": "diamonds", "diamonds": "hearts", "spades": "clubs",
                    "clubs": "spades"}[suit]  # fmt: skip
            other = (_RANKS[rank], twin)
        pairs.append((playing_card(_RANKS[rank], suit), playing_card(*other)))
    return pairs


def _icons(limit: int = 200) -> list[Image.Image]:
    """Colour icons of the installed icon theme (largest size), flattened onto nothing: RGBA."""
    found: dict[str, Path] = {}
    for path in sorted(Path("/usr/share/icons").rglob("*.png")):
        if "symbolic" in path.name:
            continue
        name = path.name.split(".")[0]
        found.setdefault(name, path)
    icons = []
    for path in list(found.values())[:limit]:
        with Image.open(path) as icon:
            icons.append(icon.convert("RGBA"))
    return icons


def _shape(kind: int, side: int, colour: tuple[int, ...]) -> Image.Image:
    shape = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(shape)
    if kind == 0:
        draw.ellipse((0, 0, side - 1, side - 1), fill=colour)
    elif kind == 1:
        draw.rectangle((side * 0.1, side * 0.1, side * 0.9, side * 0.9), fill=colour)
    elif kind == 2:
        draw.polygon([(side / 2, 0), (side - 1, side - 1), (0, side - 1)], fill=colour)
    else:
        points = []
        for k in range(10):
            radius = side / 2 if k % 2 == 0 else side / 5
            angle = np.pi / 2 + k * np.pi / 5
            points.append((side / 2 + radius * np.cos(angle), side / 2 - radius * np.sin(angle)))
        draw.polygon(points, fill=colour)
    return shape


def pasted_pairs(
    rng: np.random.Generator, count: int, backgrounds: list[Image.Image]
) -> list[tuple[Image.Image, Image.Image]]:
    """The same background with two different small objects (12-25 % of the short side)
    pasted at the same place: two shapes of one colour, or two different icons."""
    icons = _icons()
    pairs = []
    for index in range(count):
        background = backgrounds[int(rng.integers(0, len(backgrounds)))].convert("RGB")
        side = max(8, int(min(background.size) * rng.uniform(0.12, 0.25)))
        if index % 2 == 0 and len(icons) > 1:
            a, b = rng.choice(len(icons), 2, replace=False)
            objects = [icons[int(a)].resize((side, side)), icons[int(b)].resize((side, side))]
        else:
            colour = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
            a, b = rng.choice(4, 2, replace=False)
            objects = [_shape(int(a), side, colour), _shape(int(b), side, colour)]
        x = int(rng.integers(0, background.width - side + 1))
        y = int(rng.integers(0, background.height - side + 1))
        made = []
        for obj in objects:
            canvas = background.copy()
            canvas.paste(obj, (x, y), obj)
            made.append(canvas)
        pairs.append((made[0], made[1]))
    return pairs
