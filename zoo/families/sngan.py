"""SNGAN: Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018, arXiv:1802.05957.

Every discriminator layer's weight is divided by its largest singular value (one power iteration per step), which
bounds D's Lipschitz constant without a penalty. The "standard CNN" of the paper's Table 3, adapted to the image
size: G upsamples with 4x4 transposed convolutions + BN + ReLU; D alternates 3x3/1 and 4x4/2 convolutions with
LeakyReLU(0.1). Hinge loss and an EMA generator; the defaults use TTUR (G 1e-4, D 4e-4, Adam betas (0, 0.9),
Heusel et al. 2017). The Fashion-MNIST recipe uses the paper's setting C instead (2e-4 for both, betas (0.5, 0.999)):
with D at twice G's rate its FID plateaued near 10 (recipes/sngan-fmnist.yaml records the runs).
"""

from __future__ import annotations

from ..engine import GANModule
from ..nets.sngan import SNGANDiscriminator, SNGANGenerator
from ..registry import register_family


@register_family("sngan")
class SNGAN(GANModule):
    network_switches = ("pack",)

    def __init__(self, latent_dim: int = 128, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 loss: str = "hinge", lr_g: float = 1e-4, lr_d: float = 4e-4,
                 betas_g: tuple[float, float] = (0.0, 0.9), betas_d: tuple[float, float] = (0.0, 0.9),
                 ema_decay: float = 0.999, **kwargs):
        super().__init__(loss=loss, lr_g=lr_g, lr_d=lr_d, betas_g=betas_g, betas_d=betas_d, ema_decay=ema_decay,
                         **kwargs)

    def build_generator(self) -> SNGANGenerator:
        h = self.hparams
        return SNGANGenerator(h.latent_dim, h.width, h.img_channels, h.img_size)

    def build_discriminator(self) -> SNGANDiscriminator:
        h = self.hparams
        return SNGANDiscriminator(h.width, self.d_in_channels, h.img_size)
