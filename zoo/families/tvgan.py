"""TVGAN: PENG Bo, "TVGAN: a simple and effective new GAN" (zhuanlan.zhihu.com/p/50806187, 2018; FAMILIES.md A.30).

A total-variation IPM with D bounded to [-1, 1], the bound enforced by zeroing the gradients of real samples scored
above 1 and of fakes scored below -1: D maximises E[min(1, D(x))] - E[max(-1, D(G(z)))], and G keeps the linear
loss -E[D(G(z))] (``zoo.losses.TotalVariation``). D's gradients are exactly the hinge loss's (the source's own
observation). ``clip_g=True`` clips G's loss the same way, which the source reports to fail; it is available to
reproduce that, not to train with. Networks and optimiser: DCGAN's.
"""

from __future__ import annotations

from ..engine import GANModule
from ..losses import TotalVariation
from ..registry import register_family
from .dcgan import DCGANNetworks


@register_family("tvgan")
class TVGAN(DCGANNetworks, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 clip_g: bool = False, **kwargs):
        super().__init__(loss=TotalVariation(clip_g), **kwargs)
