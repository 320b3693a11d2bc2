"""Mode-regularized GAN: Che, Li, Jacob, Bengio & Li, "Mode Regularized Generative Adversarial Networks",
ICLR 2017, arXiv:1612.02136.

An encoder E maps images to latents and G learns to reconstruct real images from them, so every mode of the data
has latents that G must map onto it. G and E minimise (E only the bracket, which is all that depends on it)

    T_G = -E_z[log D(G(z))] + E_x[ lambda1 d(x, G(E(x))) + lambda2 (-log D(G(E(x)))) ],

d the mean squared pixel distance (the geometric regularizer) and -log D(G(E(x))) the mode regularizer, which
asks that the reconstructions also look real. The paper prints "+ lambda2 log D(G(E(x)))"; minimised as printed it
would push the reconstructions to be rejected, so the non-saturating form the text describes is used. E trains in
G's optimizer (``generator_networks``) and gets its own DDP wrapper on several processes. D is DCGAN's with the
usual loss on G(z). lambda1 (``geometric_weight``, on the per-pixel mean) and lambda2 (``mode_weight``) are this
zoo's defaults, not the paper's. Not here (yet): the two-discriminator manifold/diffusion variant (MDGAN), and E's
weights in the exported folder.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..engine import GANModule
from ..errors import InvalidArgumentError
from ..nets.dcgan import DCGANEncoder
from ..registry import register_family
from .dcgan import DCGANNetworks


@register_family("modereg")
class ModeRegularizedGAN(DCGANNetworks, GANModule):
    generator_networks = ("G", "E")

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 geometric_weight: float = 1.0, mode_weight: float = 0.1, **kwargs):
        if kwargs.get("loss", "ns") not in ("ns", "minimax"):
            raise InvalidArgumentError("the mode-regularized GAN's mode term is -log D: train it with loss 'ns'")
        super().__init__(**kwargs)
        self.E = self.build_encoder()

    def build_encoder(self) -> DCGANEncoder:
        h = self.hparams
        return DCGANEncoder(h.latent_dim, h.width, h.img_channels, h.img_size)

    def encode(self, x: Tensor) -> Tensor:
        return self.net("E")(x)

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().generator_loss(real, labels)  # -log D(G(z)) and any G penalties
        reconstruction = self.generate(self.encode(real))
        geometric = (reconstruction - real).pow(2).mean()
        mode = F.softplus(-self.discriminate(reconstruction)).mean()  # -log sigmoid(D(G(E(x))))
        h = self.hparams
        logs.update({"modereg/geometric": geometric.detach(), "modereg/mode": mode.detach()})
        return loss + h.geometric_weight * geometric + h.mode_weight * mode, logs
