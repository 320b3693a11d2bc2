"""SAGAN: Zhang, Goodfellow, Metaxas & Odena, "Self-Attention Generative Adversarial Networks", ICML 2019,
arXiv:1805.08318.

A self-attention block lets both networks relate distant positions (gamma starts at 0, so each network starts as
its convolutional self). The paper's training: spectral norm in G and D, hinge loss, TTUR (G 1e-4, D 4e-4, Adam
betas (0, 0.9)), one D step per G step; class-conditional through conditional BatchNorm and a projection
discriminator, the parts BigGAN reuses (``zoo.nets.sagan``). Deviations: 28x28 networks with plain (not residual)
blocks and attention at 14x14, sized for a 2-core CPU; an EMA generator as every zoo family.
"""

from __future__ import annotations

from ..engine import GANModule
from ..nets.sagan import SAGANDiscriminator, SAGANGenerator
from ..registry import register_family


@register_family("sagan")
class SAGAN(GANModule):
    def __init__(self, latent_dim: int = 128, width: int = 32, num_classes: int = 10,
                 class_names: list[str] | None = None, img_channels: int = 1, img_size: int = 28,
                 attention_at: int = 14, loss: str = "hinge", lr_g: float = 1e-4, lr_d: float = 4e-4,
                 betas_g: tuple[float, float] = (0.0, 0.9), betas_d: tuple[float, float] = (0.0, 0.9), **kwargs):
        super().__init__(loss=loss, lr_g=lr_g, lr_d=lr_d, betas_g=betas_g, betas_d=betas_d, **kwargs)

    def build_generator(self) -> SAGANGenerator:
        h = self.hparams
        return SAGANGenerator(h.latent_dim, h.width, h.num_classes, h.img_channels, h.img_size, h.attention_at,
                              class_names=h.class_names)

    def build_discriminator(self) -> SAGANDiscriminator:
        h = self.hparams
        return SAGANDiscriminator(h.width, h.num_classes, h.img_channels, h.img_size, h.attention_at)
