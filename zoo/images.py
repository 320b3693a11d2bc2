"""Image grids for samples (torch/torchvision only, so sampling needs no training code)."""

from __future__ import annotations

import torch
from torchvision.utils import make_grid


def image_grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Images in [-1, 1] as one [C, H, W] grid in [0, 1]."""
    return make_grid(images.float(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
