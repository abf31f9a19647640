"""Small JPEG thumbnails of evidence samples, embedded in the HTML report as data URIs.

A report is most often written *because* some files are broken, so a file that cannot be
decoded yields an "unreadable" thumbnail with the reason instead of an exception. Each sample
is decoded at most once per report, whichever results name it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from dataclasses import dataclass

THUMBNAIL_SIZE = 128
JPEG_QUALITY = 70


@dataclass(frozen=True)
class Thumbnail:
    sample_id: str
    # "ok": data_uri holds the image; "unreadable": the file did not decode (see reason);
    # "no_file": the report knows no path for this sample (in-memory arrays, say).
    state: str
    data_uri: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def make_thumbnail_data_uri(path: str, size: int = THUMBNAIL_SIZE) -> str:
    """A ``data:image/jpeg;base64,...`` URI of the image at ``path``, at most ``size`` px.

    Raises whatever Pillow raises for a file it cannot decode.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        # draft() lets the JPEG decoder scale by 1/2..1/8 while decoding: far less work.
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image)
        image.thumbnail((size, size))
        rgb = _to_rgb(image)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _to_rgb(image):  # PIL.Image.Image -> PIL.Image.Image, typed loosely to import PIL lazily
    """JPEG needs RGB: flatten transparency onto white and scale 16-bit/float images to 8 bits."""
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        scale = 255.0 / (high - low) if high > low else 0.0
        image = Image.fromarray(((values - low) * scale).astype(np.uint8), mode="L")
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")


class ThumbnailCache:
    """Thumbnails by sample id, each file decoded once however often it is asked for."""

    def __init__(self, sample_paths: Mapping[str, str], size: int = THUMBNAIL_SIZE) -> None:
        self._sample_paths = sample_paths
        self._size = size
        self._cache: dict[str, Thumbnail] = {}

    def get(self, sample_id: str) -> Thumbnail:
        sample_id = str(sample_id)
        if sample_id not in self._cache:
            self._cache[sample_id] = self._make(sample_id)
        return self._cache[sample_id]

    def _make(self, sample_id: str) -> Thumbnail:
        path = self._sample_paths.get(sample_id)
        if not path:
            return Thumbnail(sample_id, "no_file")
        try:
            uri = make_thumbnail_data_uri(path, self._size)
        except Exception as exc:  # any decoder failure must become a tile, not a crash
            return Thumbnail(sample_id, "unreadable", reason=f"{type(exc).__name__}: {exc}")
        return Thumbnail(sample_id, "ok", data_uri=uri)

    @property
    def decoded(self) -> int:
        """How many files were opened so far (for tests and diagnostics)."""
        return sum(1 for thumb in self._cache.values() if thumb.state != "no_file")
