"""GAN: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, arXiv:1406.2661.

Multilayer perceptrons for both players. The paper's generator loss log(1 - D(G(z))) saturates early in training;
the paper itself recommends maximising log D(G(z)) instead. Both are available: ``loss="minimax"`` (saturating)
or ``loss="ns"`` (non-saturating, the default). The paper's D used maxout and dropout; here D is a LeakyReLU MLP
with dropout, and G uses BatchNorm between its ReLU layers, which trains reliably at this size.
"""

from __future__ import annotations

from ..engine import GANModule
from ..errors import InvalidArgumentError
from ..nets.mlp import MLPDiscriminator, MLPGenerator
from ..registry import register_family


@register_family("gan")
class GAN(GANModule):
    """The original GAN; ``loss`` is "ns" (non-saturating) or "minimax" (the paper's saturating objective)."""

    network_switches = ("pack",)

    def __init__(self, latent_dim: int = 64, g_hidden: tuple[int, ...] = (256, 512, 1024),
                 d_hidden: tuple[int, ...] = (512, 256), img_channels: int = 1, img_size: int = 28,
                 loss: str = "ns", **kwargs):
        if loss not in ("ns", "minimax"):
            raise InvalidArgumentError(f"the GAN family trains with loss 'ns' or 'minimax', got {loss!r}")
        super().__init__(loss=loss, **kwargs)

    def build_generator(self) -> MLPGenerator:
        h = self.hparams
        return MLPGenerator(h.latent_dim, tuple(h.g_hidden), h.img_channels, h.img_size)

    def build_discriminator(self) -> MLPDiscriminator:
        h = self.hparams
        return MLPDiscriminator(tuple(h.d_hidden), self.d_in_channels, h.img_size)

