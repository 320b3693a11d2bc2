"""RGAN / RaGAN: Jolicoeur-Martineau, "The relativistic discriminator: a key element missing from standard GAN",
ICLR 2019, arXiv:1807.00734.

D estimates how much more realistic a real sample is than a fake one (RGAN: on pairs; RaGAN: against the average of
the other side), so G's update also lowers D's scores of real data. ``loss`` is one of the relativistic losses of
``zoo.losses`` (any family can use them too): rsgan, rlsgan, rhinge, rasgan (default), ralsgan, rahinge.
Networks and optimiser: DCGAN's (the paper's standard-CNN experiments used Adam 2e-4, beta1 0.5, 1:1 updates).
"""

from __future__ import annotations

from ..engine import GANModule
from ..errors import InvalidArgumentError
from ..losses import RELATIVISTIC
from ..registry import register_family
from .dcgan import DCGANNetworks


@register_family("rgan")
class RGAN(DCGANNetworks, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 loss: str = "rasgan", **kwargs):
        if loss not in RELATIVISTIC:
            raise InvalidArgumentError(f"the RGAN family trains with a relativistic loss ({', '.join(RELATIVISTIC)}), "
                                       f"got {loss!r}")
        super().__init__(loss=loss, **kwargs)
