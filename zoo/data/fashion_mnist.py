"""Fashion-MNIST (Xiao et al. 2017, arXiv:1708.07747): 70,000 28x28 grayscale images of 10 clothing classes.

Where the files come from, in order: ``root`` if given; ``$ZOO_DATA_ROOT/fashion-mnist``; Debian's
``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``); torchvision's download (``download=True``).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ..checkpointing import ResumableDataLoader, ResumableSampler
from ..errors import DataNotFoundError

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): big-endian header, dims, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte
        raise DataNotFoundError(f"{path} is not a uint8 IDX file (magic {magic:#x}): re-download it")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / "raw" / stem, folder / "raw" / f"{stem}.gz",
                      folder / "FashionMNIST" / "raw" / stem, folder / "FashionMNIST" / "raw" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def candidate_roots(root: str | os.PathLike | None) -> list[Path]:
    if root is not None:
        return [Path(root)]
    roots = []
    if os.environ.get("ZOO_DATA_ROOT"):
        roots.append(Path(os.environ["ZOO_DATA_ROOT"]) / "fashion-mnist")
    roots.append(DEBIAN_ROOT)
    return roots


def load_fashion_mnist(
    split: str = "train", root: str | os.PathLike | None = None, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``[N, 1, 28, 28]`` uint8 and labels ``[N]`` int64 of one split."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    image_stem, label_stem = FILES[split]
    roots = candidate_roots(root)
    for folder in roots:
        images, labels = _find(folder, image_stem), _find(folder, label_stem)
        if images and labels:
            x = torch.from_numpy(read_idx(images).copy()).unsqueeze(1)
            y = torch.from_numpy(read_idx(labels).astype(np.int64))
            return x, y
    if download:
        from torchvision.datasets import FashionMNIST as TVFashionMNIST

        target = roots[0] if root is not None else Path(os.environ.get("ZOO_DATA_ROOT", "~/.cache/zoo")).expanduser()
        dataset = TVFashionMNIST(str(target), train=(split == "train"), download=True)
        return dataset.data.unsqueeze(1).clone(), dataset.targets.clone().long()
    raise DataNotFoundError(
        f"Fashion-MNIST {split} files not found in {', '.join(map(str, roots))}: "
        f"`apt-get install dataset-fashion-mnist`, pass root=<folder with the IDX files>, or set download=True")


def to_model_range(images: torch.Tensor, image_size: int = 28) -> torch.Tensor:
    """uint8 [N, C, H, W] -> float in [-1, 1], resized (bilinear, antialiased) if ``image_size`` differs."""
    x = images.float().div_(127.5).sub_(1.0)
    if x.shape[-1] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
        x = x.clamp_(-1, 1)
    return x


class FashionMNIST(L.LightningDataModule):
    """Fashion-MNIST as (image in [-1, 1], label) batches; the train split for training, test for evaluation.

    The whole split is held in memory as one tensor (60,000 x 28 x 28 is 188 MB in float32), so loading costs
    no worker processes.
    """

    num_classes = 10
    class_names = CLASS_NAMES

    def __init__(self, root: str | None = None, batch_size: int = 64, image_size: int = 28, download: bool = False,
                 num_workers: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.datasets: dict[str, TensorDataset] = {}

    def prepare_data(self) -> None:
        if self.hparams.download:
            load_fashion_mnist("train", self.hparams.root, download=True)
            load_fashion_mnist("test", self.hparams.root, download=True)

    def dataset(self, split: str) -> TensorDataset:
        if split not in self.datasets:
            images, labels = load_fashion_mnist(split, self.hparams.root, self.hparams.download)
            self.datasets[split] = TensorDataset(to_model_range(images, self.hparams.image_size), labels)
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        self.dataset("train")

    def train_dataloader(self) -> DataLoader:
        # seeded per-epoch order, split across processes, resumable mid-epoch (zoo.checkpointing)
        dataset = self.dataset("train")
        return ResumableDataLoader(dataset, batch_size=self.hparams.batch_size, sampler=ResumableSampler(dataset),
                                   drop_last=True, num_workers=self.hparams.num_workers,
                                   persistent_workers=self.hparams.num_workers > 0)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset("test"), batch_size=self.hparams.batch_size, shuffle=False,
                          num_workers=self.hparams.num_workers)
