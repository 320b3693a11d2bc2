"""Label-efficient training: the fixed, seeded labelled subset of a split, and the mixin the semi-supervised
families (Improved GAN's K+1 classifier, TripleGAN) draw their labelled batches with."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InvalidArgumentError


def balanced_subset(labels: Tensor, per_class: int, num_classes: int, seed: int = 0) -> Tensor:
    """Indices of exactly ``per_class`` examples of each class 0..num_classes-1, sorted, chosen by ``seed`` alone.

    The choice depends only on the labels and the seed (its own generator, not the global RNG), so a resumed run,
    another process and the evaluation script pick the same examples.
    """
    labels = torch.as_tensor(labels).flatten()
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for k in range(num_classes):
        members = (labels == k).nonzero().flatten()
        if len(members) < per_class:
            raise InvalidArgumentError(f"class {k} has {len(members)} examples, fewer than the {per_class} labels per "
                                       "class asked for: ask for fewer labels")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen).sort().values


def dataset_labels(dataset) -> Tensor:
    """The labels of a labelled data set: a ``TensorDataset`` of (images, labels) or one with ``targets``."""
    if hasattr(dataset, "tensors") and len(dataset.tensors) > 1:
        return dataset.tensors[1]
    if hasattr(dataset, "targets"):
        return torch.as_tensor(dataset.targets)
    raise InvalidArgumentError(f"{type(dataset).__name__} has no labels to choose the labelled subset from: use a "
                               "labelled data module (zoo.data.FashionMNIST, zoo.data.ImageFolder)")


class LabelledSubset:
    """Mixin for a ``GANModule`` that trains on a fixed labelled subset of its training split beside the whole,
    unlabelled split (the semi-supervised families): at the start of training it picks ``balanced_subset`` of the
    data module's data set (the same choice on every process, on resume and in the evaluation script) and keeps
    those images and labels; ``labelled_batch`` draws from them. The batches' own labels play no part.

    A family says what to pick by ``labelled_subset_spec``.
    """

    labelled: tuple[Tensor, Tensor] | None = None  # (images, labels), set at the start of training

    def labelled_subset_spec(self) -> tuple[int, int, int]:
        """(labels in all, classes, seed) of the subset; 0 labels: the family uses none."""
        raise NotImplementedError

    def on_train_start(self) -> None:
        count, classes, seed = self.labelled_subset_spec()
        if count and self.labelled is None:
            dataset = self.trainer.train_dataloader.dataset
            labels = dataset_labels(dataset)
            index = balanced_subset(labels, count // classes, classes, seed)
            self.set_labelled(torch.stack([dataset[i][0] for i in index.tolist()]), labels[index])
        super().on_train_start()

    def set_labelled(self, images: Tensor, labels: Tensor) -> None:
        """The labelled examples the supervised terms draw from (a fixed subset of the training split)."""
        self.labelled = (images.to(self.device), labels.to(self.device, torch.long))

    def labelled_batch(self, n: int) -> tuple[Tensor, Tensor]:
        """``n`` labelled examples drawn with replacement (this rank's rows of one draw for every rank, like
        ``GANModule.latents``)."""
        if self.labelled is None:
            raise InvalidArgumentError(f"{type(self).__name__} has no labelled examples: train it with a labelled "
                                       "data module, or call set_labelled(images, labels)")
        rank, world = self.rank_and_world()
        images, labels = self.labelled
        index = torch.randint(len(labels), (n * world,), device=labels.device)[rank * n:(rank + 1) * n]
        return images[index], labels[index]

    def pretrain_on_labelled(self, net: nn.Module, steps: int, batch_size: int, lr: float,
                             betas: tuple[float, float] = (0.9, 0.999), seed: int = 0) -> None:
        """Train ``net`` (a classifier of the images) with cross-entropy on the labelled examples: ``steps`` Adam
        steps on batches of ``batch_size`` drawn with replacement by a generator seeded with ``seed`` alone, so every
        process and every rerun draws the same batches. ``net`` must be in train mode with trainable parameters."""
        images, labels = self.labelled
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
        with torch.enable_grad():
            for _ in range(steps):
                index = torch.randint(len(labels), (batch_size,), generator=generator).to(labels.device)
                loss = F.cross_entropy(net(images[index]), labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
