"""LSGAN: Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017, arXiv:1611.04076.

Least-squares losses with targets (a, b, c): D minimises 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], G minimises
1/2 E[(D(G(z)) - c)^2]. The paper's 0-1 coding (a, b, c) = (0, 1, 1) is the default; (-1, 1, 0) minimises the
Pearson chi^2 divergence. Adam(lr 2e-4, beta1 0.5), DCGAN-style networks.
"""

from __future__ import annotations

from ..engine import GANModule
from ..losses import LeastSquares
from ..registry import register_family
from .dcgan import DCGANNetworks


@register_family("lsgan")
class LSGAN(DCGANNetworks, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 a: float = 0.0, b: float = 1.0, c: float = 1.0, **kwargs):
        super().__init__(loss=LeastSquares(a, b, c), **kwargs)
