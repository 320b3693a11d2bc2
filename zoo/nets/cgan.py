"""Class-conditional DCGAN networks: Mirza & Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784
(2014), on the DCGAN networks of ``zoo.nets.dcgan``.

G(z, y): a learned class embedding is concatenated to z at the input (the paper joins z and the one-hot y at the
input; an embedding is the same first linear layer, factored). D(x, y): a low-dimensional class embedding, laid out
as a small map at D's coarsest resolution and upsampled (nearest) to the image size, joins the image as extra input
channels (ganhacks #11). ACGAN (``zoo.nets.acgan``) reuses this generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from .dcgan import DCGANDiscriminator, DCGANGenerator, start_size


def check_class_names(class_names: list[str] | None, num_classes: int) -> list[str] | None:
    """``class_names`` as a list, one per class, or None; anything else is a one-line error."""
    if num_classes < 1:
        raise InvalidArgumentError(f"a class-conditional network needs num_classes >= 1, got {num_classes}")
    if class_names is not None and len(class_names) != num_classes:
        raise InvalidArgumentError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
    return list(class_names) if class_names else None


class ConditionalDCGANGenerator(DCGANGenerator):
    """G(z, y) = DCGAN generator of [z, embed(y)]; ``latent_dim`` is z's size alone (what ``sample`` draws)."""

    def __init__(self, latent_dim: int = 64, num_classes: int = 10, class_names: list[str] | None = None,
                 embed_dim: int = 10, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 dropout: float = 0.0):
        class_names = check_class_names(class_names, num_classes)
        super().__init__(latent_dim + embed_dim, width, img_channels, img_size, dropout=dropout)
        self.latent_dim, self.num_classes, self.class_names = latent_dim, num_classes, class_names
        self.embed = nn.Embedding(num_classes, embed_dim)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)  # on z's scale, so neither half of the input dominates

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return super().forward(torch.cat([z, self.embed(y)], 1))


class LabelMapDiscriminator(nn.Module):
    """D(x, y): DCGAN discriminator of [x, upsample(embed(y))], the embedding a ``label_channels`` x b x b map
    (b: D's coarsest resolution, 7 for 28x28) upsampled to the image size."""

    def __init__(self, num_classes: int = 10, label_channels: int = 1, width: int = 64, img_channels: int = 1,
                 img_size: int = 28, norm: str = "batch"):
        super().__init__()
        if label_channels < 1:
            raise InvalidArgumentError(f"label_channels must be >= 1, got {label_channels}")
        self.base, _ = start_size(img_size)
        self.label_channels, self.img_size = label_channels, img_size
        self.embed = nn.Embedding(num_classes, label_channels * self.base * self.base)
        self.body = DCGANDiscriminator(width, img_channels + label_channels, img_size, norm=norm)

    def label_map(self, y: Tensor) -> Tensor:
        small = self.embed(y).view(-1, self.label_channels, self.base, self.base)
        return F.interpolate(small, size=(self.img_size, self.img_size), mode="nearest")

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.body(torch.cat([x, self.label_map(y).to(x.dtype)], 1))
