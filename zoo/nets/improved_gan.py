"""Improved-GAN's discriminator: Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
arXiv:1606.03498.

DCGAN's convolutional body (``features``: the layer feature matching compares), then minibatch discrimination
(``zoo.layers.MinibatchDiscrimination``, B kernels of dimension C appended to the features), then a linear score.
With ``num_logits`` K > 1 it is the semi-supervised K+1 classifier (section 5): K class logits, the fake class's
logit fixed at 0. The generator is DCGAN's.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..layers import MinibatchDiscrimination
from .dcgan import DCGANDiscriminator


class ImprovedGANDiscriminator(nn.Module):
    """``forward`` gives one score per image ([N]), or K class logits ([N, K]) when ``num_logits`` is K > 1.
    ``norm`` is the body's normalisation ("batch", "layer" or "none", as ``DCGANDiscriminator``)."""

    def __init__(self, width: int = 64, img_channels: int = 1, img_size: int = 28, minibatch_kernels: int = 100,
                 minibatch_kernel_dim: int = 5, norm: str = "batch", num_logits: int = 1):
        super().__init__()
        body = DCGANDiscriminator(width, img_channels, img_size, norm=norm)
        self.features = body.features
        n = body.head.in_features
        self.minibatch = (MinibatchDiscrimination(n, minibatch_kernels, minibatch_kernel_dim)
                          if minibatch_kernels else nn.Identity())
        self.head = nn.Linear(n + minibatch_kernels, num_logits)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x))

    def score(self, features: Tensor) -> Tensor:
        """The score (or K logits) of ``features``, the output of ``self.features``."""
        out = self.head(self.minibatch(features))
        return out.squeeze(1) if out.shape[1] == 1 else out
