"""Reference image sets and where their features are cached.

The reference for a model trained on Fashion-MNIST is the *test* split (never seen by the models or the classifier),
at the model's resolution: 28x28 as stored, or resized like the training data module does (antialiased bilinear).
torch-fidelity caches each reference's features and FID statistics under ``cache_dir()`` with a key that encodes the
whole protocol (dataset, split, resolution, count, extractor and its weights hash), so a change to any of them computes
fresh statistics instead of reusing stale ones.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import InvalidArgumentError
from .extractors import ExtractorSpec

CACHE_ENV = "ZOO_CACHE"
DATASETS = ("fashion-mnist",)
#: every model of a dataset is scored against one reference at the dataset's own resolution; other sizes are resized
NATIVE_RESOLUTION = {"fashion-mnist": 28}


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``$ZOO_CACHE``, else ``~/.cache/gan-zoo``; the reference statistics live in ``<it>/fidelity``."""
    root = Path(path) if path else Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "gan-zoo")
    return root.expanduser() / "fidelity"


def reference_key(dataset: str, split: str, resolution: int, count: int, extractor: ExtractorSpec,
                  seed: int | None = None) -> str:
    """A file-name-safe key naming everything the cached features depend on."""
    sha = (extractor.weights_sha256 or "none")[:12]
    subset = f"-seed{seed}" if seed is not None else ""
    key = f"{dataset}-{split}-{resolution}px-n{count}{subset}-{extractor.name}-{sha}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


class ImageTensorDataset(Dataset):
    """uint8 images ``[N, C, H, W]`` as a torch-fidelity input; gray is repeated to ``channels``."""

    def __init__(self, images: Tensor, channels: int = 1):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise InvalidArgumentError(f"expected uint8 images [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        self.images = images
        self.channels = channels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tensor:
        x = self.images[i]
        return x.repeat(self.channels // x.shape[0], 1, 1) if x.shape[0] != self.channels else x


def to_uint8(images: Tensor) -> Tensor:
    """Float images in [-1, 1] -> uint8 [0, 255] (round to nearest, as a saved PNG would be)."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def real_images(dataset: str, split: str, resolution: int, count: int | None = None, seed: int = 0,
                root: str | None = None) -> tuple[Tensor, Tensor]:
    """uint8 images ``[N, 1, res, res]`` and labels of a split; ``count`` draws a seeded subset without replacement."""
    if dataset not in DATASETS:
        raise InvalidArgumentError(
            f"no reference data for dataset {dataset!r} (known: {', '.join(DATASETS)}): score image folders with "
            f"zoo.metrics.fidelity.score_folders instead")
    from ..data.fashion_mnist import load_fashion_mnist, to_model_range

    images, labels = load_fashion_mnist(split, root)
    if count is not None and count < len(images):
        index = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:count]
        images, labels = images[index], labels[index]
    elif count is not None and count > len(images):
        raise InvalidArgumentError(f"{dataset} {split} has {len(images)} images, fewer than the {count} requested")
    if resolution != images.shape[-1]:
        images = to_uint8(to_model_range(images, resolution))
    return images, labels
