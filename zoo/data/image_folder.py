"""A data module for your own images: a folder of class sub-folders (torchvision ``ImageFolder`` layout)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import ImageFolder as TVImageFolder

from ..checkpointing import ResumableDataLoader, ResumableSampler
from ..errors import DataNotFoundError


class ImageFolder(L.LightningDataModule):
    """Images from ``root/<class>/*.png|jpg`` resized and centre-cropped to ``image_size``, scaled to [-1, 1].

    ``channels`` is 3 (RGB) or 1 (grayscale). Labels are the sub-folder indices (sorted names), so a conditional
    family can use them; an unconditional one ignores them.
    """

    def __init__(self, root: str, image_size: int = 64, channels: int = 3, batch_size: int = 64,
                 num_workers: int = 2):
        super().__init__()
        self.save_hyperparameters()
        self.train_set = None

    def setup(self, stage: str | None = None) -> None:
        root = Path(self.hparams.root)
        if not root.is_dir():
            raise DataNotFoundError(f"image folder {root} does not exist: pass data.root=<folder of class folders>")
        size = self.hparams.image_size
        steps = [transforms.Resize(size), transforms.CenterCrop(size)]
        if self.hparams.channels == 1:
            steps.append(transforms.Grayscale(1))
        else:
            steps.append(transforms.Lambda(lambda img: img.convert("RGB")))
        steps += [transforms.ToTensor(), transforms.Normalize([0.5] * self.hparams.channels,
                                                              [0.5] * self.hparams.channels)]
        try:
            self.train_set = TVImageFolder(str(root), transform=transforms.Compose(steps))
        except FileNotFoundError as err:
            raise DataNotFoundError(f"{root}: {err}; put images in {root}/<class name>/") from None
        self.class_names = self.train_set.classes

    def train_dataloader(self) -> DataLoader:
        # seeded per-epoch order, split across processes, resumable mid-epoch (zoo.checkpointing)
        return ResumableDataLoader(self.train_set, batch_size=self.hparams.batch_size,
                                   sampler=ResumableSampler(self.train_set), drop_last=True,
                                   num_workers=self.hparams.num_workers,
                                   persistent_workers=self.hparams.num_workers > 0)
