"""S3GAN's discriminator: Lučić, Tschannen, Ritter, Zhai, Bachem & Gelly, "High-Fidelity Image Generation With Fewer
Labels", ICML 2019, arXiv:1903.02271.

BigGAN's projection discriminator (``zoo.nets.biggan``) with up to two linear heads on its representation
h = D~(x): a class head c_CT (S2GAN-CO, S3GAN), whose prediction stands in for the label of an unlabelled real image
in the projection term, and a 4-way rotation head (S3GAN's self-supervised task). Both heads are spectrally
normalised like every other layer of D.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import InvalidArgumentError
from .biggan import BigGANDiscriminator, sn_dense

ROTATIONS = 4  # 0, 90, 180 and 270 degrees


def rotated(x: Tensor) -> tuple[Tensor, Tensor]:
    """``x`` [N, C, H, W] in all four rotations, stacked along the batch (rotation k = ``torch.rot90`` k times over
    (H, W), i.e. k * 90 degrees counter-clockwise), and the rotation targets [4N]: N zeros, N ones, N twos, N threes."""
    if x.shape[-1] != x.shape[-2]:
        raise InvalidArgumentError(f"rotation prediction needs square images, got {x.shape[-2]}x{x.shape[-1]}")
    images = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(ROTATIONS)])
    targets = torch.arange(ROTATIONS, device=x.device).repeat_interleave(len(x))
    return images, targets


class S3GANDiscriminator(BigGANDiscriminator):
    """D(x, y) as BigGAN's; ``y=None`` takes the class head's prediction (argmax, without gradient) as the label.

    ``forward(x, y, heads=True)`` returns (scores, class logits or None, rotation logits or None) from one pass.
    """

    def __init__(self, num_classes: int, img_size: int = 128, img_channels: int = 3, width: int = 96,
                 channel_multipliers: Sequence[int] | None = None, attention_at: int | None = 64,
                 sn_eps: float = 1e-6, class_head: bool = True, rotation_head: bool = True):
        super().__init__(num_classes, img_size, img_channels, width, channel_multipliers, attention_at, sn_eps)
        features = self.linear.in_features
        self.classifier = sn_dense(features, num_classes, eps=sn_eps) if class_head else None
        self.rotation = sn_dense(features, ROTATIONS, eps=sn_eps) if rotation_head else None

    def forward(self, x: Tensor, y: Tensor | None = None, heads: bool = False):
        h = self.features(x)
        logits = self.classifier(h) if self.classifier is not None else None
        if y is None:
            if logits is None:
                raise InvalidArgumentError("this discriminator has no class head to predict labels: pass y")
            y = logits.detach().argmax(1)
        scores = self.project(h, y)
        if not heads:
            return scores
        return scores, logits, (self.rotation(h) if self.rotation is not None else None)
