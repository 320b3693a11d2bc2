"""Label-efficient training: the fixed, seeded labelled subset of a split (the semi-supervised families)."""

from __future__ import annotations

import torch
from torch import Tensor

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
