"""DCGAN: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", ICLR 2016, arXiv:1511.06434.

Architecture guidelines from the paper: strided (transposed) convolutions instead of pooling, BatchNorm in both
nets (not on G's output or D's input), ReLU in G with tanh output, LeakyReLU(0.2) in D; Adam(lr 2e-4, beta1 0.5).
The networks (``zoo.nets.dcgan``) start at 7x7 for 28x28 images and at 4x4 for 32/64/128, doubling per block.
"""

from __future__ import annotations

from ..engine import GANModule
from ..nets.dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan, start_size  # noqa: F401  (re-exported)
from ..registry import register_family


class DCGANNetworks:
    """Mixin for families that train DCGAN networks (WGAN, WGAN-GP, LSGAN): builds G and D from the hparams
    latent_dim, width, img_channels, img_size; ``d_norm`` is the discriminator's normalisation."""

    d_norm = "batch"
    network_switches = ("pack", "g_dropout")

    def build_generator(self) -> DCGANGenerator:
        h = self.hparams
        return DCGANGenerator(h.latent_dim, h.width, h.img_channels, h.img_size, dropout=h.g_dropout)

    def build_discriminator(self) -> DCGANDiscriminator:
        h = self.hparams
        return DCGANDiscriminator(h.width, self.d_in_channels, h.img_size, norm=self.d_norm)


@register_family("dcgan")
class DCGAN(DCGANNetworks, GANModule):
    """DCGAN with the non-saturating loss (set ``loss`` to compare others on the same networks)."""

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 loss: str = "ns", lr_g: float = 2e-4, lr_d: float = 2e-4, **kwargs):
        super().__init__(loss=loss, lr_g=lr_g, lr_d=lr_d, **kwargs)
