"""Small JPEG thumbnails of evidence samples.

The data stage calls :func:`make_thumbnail` while it can still read the files and stores the
bytes as artifacts; views read them back (``Report.thumbnails``) and the HTML embeds them with
:func:`image_data_uri`, so a past run re-renders after its source data is gone. Audio clips
get a PNG waveform instead (``dlqa.report.audio_media``).
"""

from __future__ import annotations

import io
import os
from typing import Any

# Re-exported: callers have always found it here.
from dlqa.report.media_types import image_data_uri

__all__ = ["JPEG_QUALITY", "THUMBNAIL_SIZE", "image_data_uri", "make_thumbnail"]

THUMBNAIL_SIZE = 128
JPEG_QUALITY = 70


def make_thumbnail(path: str | os.PathLike[str], size: int = THUMBNAIL_SIZE) -> bytes:
    """JPEG bytes of the image at ``path``, at most ``size`` px on its longer side.

    Raises whatever Pillow raises for a file it cannot decode; the caller decides what an
    unreadable file means (the data stage already reports it as a finding).
    """
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        # draft() lets the JPEG decoder scale by 1/2..1/8 while decoding: far less work.
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image)
        image.thumbnail((size, size))
        return _jpeg(_to_rgb(image))


def array_thumbnail(array: Any, size: int = THUMBNAIL_SIZE) -> bytes:
    """JPEG bytes of an in-memory uint8 image (H, W) or (H, W, C), at most ``size`` px."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(array)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    image = Image.fromarray(pixels)
    image.thumbnail((size, size))
    return _jpeg(_to_rgb(image))


def _jpeg(rgb: Any) -> bytes:
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


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
