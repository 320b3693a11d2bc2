"""PacGAN: Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in generative adversarial networks",
NeurIPS 2018, arXiv:1712.04086.

D judges m samples at once, all real or all fake, stacked along the channels, so a generator that repeats itself
is easier to tell apart: the paper's remedy for mode collapse, with the GAN loss and networks unchanged except D's
first layer (m times the input channels). Packing is the engine's ``pack`` switch (``zoo.tricks``), which any
family on DCGAN networks, ``gan`` and ``sngan`` can set; this family is DCGAN with ``pack=2`` (the paper's m = 2..4).
"""

from __future__ import annotations

from ..engine import GANModule
from ..registry import register_family
from .dcgan import DCGANNetworks


@register_family("pacgan")
class PacGAN(DCGANNetworks, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 pack: int = 2, **kwargs):
        super().__init__(pack=pack, **kwargs)
