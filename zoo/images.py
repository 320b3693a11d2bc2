"""Image grids for samples (torch/torchvision only, so sampling needs no training code)."""

from __future__ import annotations

import torch
from torchvision.utils import make_grid


def image_grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Images in [-1, 1] as one [C, H, W] grid in [0, 1]."""
    return make_grid(images.float(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] -> uint8 [0, 255] (round to nearest, as a saved PNG would be)."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
