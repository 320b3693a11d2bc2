"""Reference image sets and where their features are cached.

The reference for a model trained on Fashion-MNIST is the *test* split (never seen by the models or the classifier),
at the model's resolution: 28x28 as stored, or resized like the training data module does (antialiased bilinear).

Each reference's features and FID statistics are cached under ``cache_dir()`` as one ``.npz`` (plain arrays, read with
``allow_pickle=False``; torch-fidelity's own cache unpickles ``.pt`` files and is never used). The file is named by a
readable ``reference_key`` plus the sha256 of ``features_key``: the images' uint8 bytes, the extractor, its weights'
sha256 and what else changes the features. Other images (a stale or planted file under a familiar name) give another
file name, so they are never read in place of the right ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import InvalidArgumentError
from ..images import to_uint8
from ..serialization import atomic_write_bytes
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
    """A file-name-safe name for people; the cache file's name adds the sha256 of ``features_key``."""
    sha = (extractor.weights_sha256 or "none")[:12]
    subset = f"-seed{seed}" if seed is not None else ""
    key = f"{dataset}-{split}-{resolution}px-n{count}{subset}-{extractor.name}-{sha}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


CACHE_FORMAT = 1


def images_sha256(images: Tensor) -> str:
    """sha256 of uint8 images: their dtype and shape, then their bytes in C order."""
    if images.dtype != torch.uint8:
        raise InvalidArgumentError(f"expected uint8 images, got {images.dtype}")
    digest = hashlib.sha256(f"uint8{list(images.shape)}".encode())
    digest.update(images.contiguous().cpu().numpy().data)
    return digest.hexdigest()


def features_key(images: Tensor, channels: int, extractor: ExtractorSpec, layers: list[str]) -> str:
    """Everything cached features depend on, as canonical JSON: images, extractor, weights, layers, package."""
    try:
        fidelity_version = version("torch-fidelity")  # its Inception code
    except PackageNotFoundError:
        fidelity_version = None
    return json.dumps({
        "format": CACHE_FORMAT, "images_sha256": images_sha256(images), "images_shape": list(images.shape),
        "channels": channels, "extractor": extractor.name, "extractor_weights_sha256": extractor.weights_sha256,
        "resize": extractor.resize, "layers": sorted(layers), "torch_fidelity": fidelity_version,
    }, sort_keys=True)


def features_path(cache: str | os.PathLike | None, name: str, key: str) -> Path:
    """``<cache_dir>/<name>-<sha256 of key>.npz``."""
    return cache_dir(cache) / f"{name}-{hashlib.sha256(key.encode()).hexdigest()}.npz"


def load_features(path: Path, key: str, layers: list[str], count: int, fid_layer: str | None
                  ) -> tuple[dict[str, Tensor], dict[str, np.ndarray] | None] | None:
    """Cached ``(features per layer, FID statistics)``, or None when the file is absent or not exactly what ``key``
    describes (it is then computed again and rewritten). Nothing in it is unpickled."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                raise ValueError("key differs")
            features = {k: torch.from_numpy(data[f"features.{k}"]) for k in layers}
            stats = {s: data[f"fid_{s}"] for s in ("mu", "sigma")} if fid_layer else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        print(f"note: ignoring cache file {path} ({type(err).__name__}: {err}); computing it again", file=sys.stderr)
        return None
    if any(f.dim() != 2 or len(f) != count or f.dtype != torch.float32 for f in features.values()):
        print(f"note: ignoring cache file {path} (unexpected shapes); computing it again", file=sys.stderr)
        return None
    return features, stats


def save_features(path: Path, key: str, features: Mapping[str, Tensor], stats: Mapping[str, np.ndarray] | None) -> None:
    """Write ``features`` (and the FID statistics) as one ``.npz`` of plain arrays, atomically."""
    arrays = {"key": np.array(key)}
    arrays.update({f"features.{k}": v.cpu().numpy() for k, v in features.items()})
    if stats is not None:
        arrays.update({f"fid_{s}": np.asarray(stats[s]) for s in ("mu", "sigma")})
    if any(a.dtype == object for a in arrays.values()):
        raise InvalidArgumentError("cached features must be plain numeric arrays")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


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
