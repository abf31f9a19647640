"""The demo's ink extraction (``training.model_input``) as torch layers, for the bundle.

A bundle's serving preprocessing is a typed spec (decode, resize, scale, ...); the demo's
top-hat and centring are not expressible in it. Written as the first layers of the exported
model, they travel inside ``model.onnx`` and the spec stays standard: grayscale, 32 x 32
bilinear, pixels scaled to 0..1. Comparing this path with the numpy/scipy one of training is
what the parity checks and the evaluation through the bundle measure.

The same steps as :func:`dlqa.demo.training.model_input`, batched:

* grey opening and closing with a 7 x 7 window (min/max filters as max pooling, the border
  mirrored as scipy's ``reflect`` mode does), light and dark top-hats, the stronger one kept;
* the ink scaled to its maximum, its bounding box (where it exceeds half of that) scaled to
  24 pixels on its longer side and centred on an empty 32 x 32 canvas, by bilinear sampling
  (``grid_sample``; Pillow's resize averages more source pixels when it shrinks, so the two
  differ slightly where the box shrinks);
* standardised per image.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F  # noqa: N812

from dlqa.demo.training import IMAGE_SIZE, INK_BOX, STROKE_FILTER


def _mirror_pad(x: torch.Tensor, width: int) -> torch.Tensor:
    """Pad the last two axes by ``width`` mirrored pixels, the edge pixel repeated (scipy's
    ``reflect``; torch's "reflect" mode leaves the edge out)."""
    x = torch.cat([x[..., :width].flip(-1), x, x[..., -width:].flip(-1)], dim=-1)
    return torch.cat([x[..., :width, :].flip(-2), x, x[..., -width:, :].flip(-2)], dim=-2)


def _max_filter(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(_mirror_pad(x, STROKE_FILTER // 2), STROKE_FILTER, stride=1)


def _min_filter(x: torch.Tensor) -> torch.Tensor:
    return -_max_filter(-x)


def _first_true(mask: torch.Tensor) -> torch.Tensor:
    """Index of the first nonzero along the last axis (0 when there is none)."""
    positions = torch.arange(mask.shape[-1], dtype=mask.dtype, device=mask.device)
    big = float(mask.shape[-1])
    return torch.where(mask > 0, positions, torch.full_like(mask, big)).amin(-1).clamp(max=big - 1)


class InkFrontEnd(nn.Module):
    """(n, 1, 32, 32) pixels in 0..1 -> the ink, centred and standardised, as in training."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        light = pixels - _max_filter(_min_filter(pixels))
        dark = _min_filter(_max_filter(pixels)) - pixels
        use_light = light.sum(dim=(1, 2, 3), keepdim=True) > dark.sum(dim=(1, 2, 3), keepdim=True)
        ink = torch.where(use_light, light, dark)
        ink = ink / ink.amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-3)
        centred = self._centred(ink)
        mean = centred.mean(dim=(1, 2, 3), keepdim=True)
        std = centred.std(dim=(1, 2, 3), keepdim=True, unbiased=False).clamp(min=1e-3)
        return (centred - mean) / std

    @staticmethod
    def _centred(ink: torch.Tensor) -> torch.Tensor:
        n, size = ink.shape[0], IMAGE_SIZE
        mask = (ink[:, 0] > 0.5).to(ink.dtype)
        rows, cols = mask.amax(dim=2), mask.amax(dim=1)
        top, left = _first_true(rows), _first_true(cols)
        bottom = size - 1 - _first_true(rows.flip(-1))
        right = size - 1 - _first_true(cols.flip(-1))
        height, width = bottom - top + 1, right - left + 1
        scale = INK_BOX / torch.maximum(height, width)
        out_h = torch.clamp(torch.round(height * scale), min=1)
        out_w = torch.clamp(torch.round(width * scale), min=1)
        out_top = torch.floor((size - out_h) / 2)
        out_left = torch.floor((size - out_w) / 2)
        grid_axis = torch.arange(size, dtype=ink.dtype, device=ink.device)
        # Pillow's pixel-centre convention: source = (target + 0.5) * in / out - 0.5.
        src_y = (grid_axis[None] - out_top[:, None] + 0.5) * (height / out_h)[:, None] - 0.5
        src_x = (grid_axis[None] - out_left[:, None] + 0.5) * (width / out_w)[:, None] - 0.5
        src_y, src_x = src_y + top[:, None], src_x + left[:, None]
        inside_y = (grid_axis[None] >= out_top[:, None]) & (
            grid_axis[None] < (out_top + out_h)[:, None]
        )
        inside_x = (grid_axis[None] >= out_left[:, None]) & (
            grid_axis[None] < (out_left + out_w)[:, None]
        )
        # grid_sample's normalised coordinates (align_corners=False): (2 * p + 1) / size - 1.
        norm_y = (2 * src_y + 1) / size - 1
        norm_x = (2 * src_x + 1) / size - 1
        grid = torch.stack(
            [norm_x[:, None, :].expand(n, size, size), norm_y[:, :, None].expand(n, size, size)],
            dim=-1,
        )
        sampled = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros",
                                align_corners=False)  # fmt: skip
        inside = (inside_y[:, :, None] & inside_x[:, None, :]).to(ink.dtype)[:, None]
        enough_ink = (mask.sum(dim=(1, 2)) >= 3).to(ink.dtype)[:, None, None, None]
        return enough_ink * sampled * inside + (1 - enough_ink) * ink


def raw_input(image: Image.Image) -> torch.Tensor:
    """The training side of the bundle's preprocessing: grayscale, 32 x 32 bilinear, 0..1
    (``[deploy] transform``; the ink extraction follows inside the exported model)."""
    small = image.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0)[None]


def serving_model(classifier: nn.Module) -> nn.Module:
    """The classifier behind the ink front end: what the demo exports."""
    return nn.Sequential(InkFrontEnd(), classifier).eval()


__all__ = ["InkFrontEnd", "raw_input", "serving_model"]
