"""EBGAN: Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Network", ICLR 2017, arXiv:1609.03126.

D is an autoencoder and its energy is the reconstruction error D(x) = MSE(Dec(Enc(x)), x): low on data, high
elsewhere. D minimises D(x) + [m - D(G(z))]^+ (the margin m bounds how far fakes are pushed up); G minimises
D(G(z)) + lambda_PT * f_PT, where the pulling-away term f_PT = 1/(N(N-1)) sum_{i != j} cos^2(S_i, S_j) on D's
encoder codes S of the fake batch discourages G from collapsing onto one mode. As in the paper, D is trained jointly
with G (FAMILIES.md H.12: not pre-trained). G is DCGAN's generator; D is ``AutoencoderDiscriminator(style="dcgan")``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..engine import GANModule
from ..losses import GANLoss
from ..nets.autoencoder import AutoencoderDiscriminator
from ..nets.dcgan import DCGANGenerator
from ..registry import register_family


class EnergyMargin(GANLoss):
    """EBGAN's losses on energies (D's outputs): D: E[e_real] + E[max(0, m - e_fake)]; G: E[e_fake]."""

    name = "energy_margin"

    def __init__(self, margin: float):
        self.margin = margin

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return real.mean() + F.relu(self.margin - fake).mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return fake.mean()


def pulling_away_term(codes: Tensor) -> Tensor:
    """1/(N(N-1)) sum over pairs i != j of the squared cosine similarity of codes i and j."""
    n = codes.shape[0]
    unit = F.normalize(codes.flatten(1), dim=1)
    cosine = unit @ unit.t()
    return (cosine.pow(2).sum() - cosine.diagonal().pow(2).sum()) / (n * (n - 1))


@register_family("ebgan")
class EBGAN(GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, code_dim: int = 64, img_channels: int = 1,
                 img_size: int = 28, margin: float = 1.0, pt_weight: float = 0.1, **kwargs):
        super().__init__(loss=EnergyMargin(margin), **kwargs)

    def build_generator(self) -> DCGANGenerator:
        h = self.hparams
        return DCGANGenerator(h.latent_dim, h.width, h.img_channels, h.img_size)

    def build_discriminator(self) -> AutoencoderDiscriminator:
        h = self.hparams
        return AutoencoderDiscriminator(h.width, h.code_dim, h.img_channels, h.img_size, style="dcgan")

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, _ = self.latents(real.shape[0])
        fake = self.with_instance_noise(self.generate(z))
        codes, reconstruction = self.D.autoencode(fake)  # D is frozen in the G step, never DDP-wrapped there
        energy = self.D.energy(fake, reconstruction).mean()
        pulling_away = pulling_away_term(codes)
        loss = energy + self.hparams.pt_weight * pulling_away
        return loss, {"loss/g_adv": energy.detach(), "ebgan/pulling_away": pulling_away.detach()}
