"""Improved-GAN's discriminator: Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
arXiv:1606.03498.

DCGAN's convolutional body (``features``: the layer feature matching compares), then minibatch discrimination
(``zoo.layers.MinibatchDiscrimination``, B kernels of dimension C appended to the features), then a linear score.
The generator is DCGAN's.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..layers import MinibatchDiscrimination
from .dcgan import DCGANDiscriminator


class ImprovedGANDiscriminator(nn.Module):
    def __init__(self, width: int = 64, img_channels: int = 1, img_size: int = 28, minibatch_kernels: int = 100,
                 minibatch_kernel_dim: int = 5):
        super().__init__()
        body = DCGANDiscriminator(width, img_channels, img_size)
        self.features = body.features
        n = body.head.in_features
        self.minibatch = (MinibatchDiscrimination(n, minibatch_kernels, minibatch_kernel_dim)
                          if minibatch_kernels else nn.Identity())
        self.head = nn.Linear(n + minibatch_kernels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.minibatch(self.features(x))).squeeze(1)
