"""BiGAN: Donahue, Krähenbühl & Darrell, "Adversarial Feature Learning", ICLR 2017, arXiv:1605.09782; and ALI:
Dumoulin, Belghazi, Poole, Mastropietro, Lamb, Arjovsky & Courville, "Adversarially Learned Inference", ICLR 2017,
arXiv:1606.00704.

An encoder E: x -> z learns beside G: z -> x. D never sees an image alone: it judges joint pairs, (x, E(x)) from the
data, labelled real, against (G(z), z) from the prior, labelled fake,

    min_{G,E} max_D  E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))],

and at the optimum the two joint distributions match, so E and G invert each other. G and E train together in G's
optimizer (``generator_networks``); with loss "ns" (default) they minimise the objective with the labels inverted,
-log(1 - D(x, E(x))) - log D(G(z), z), the non-saturating form both papers use; "minimax" is the saddle point as
written. ``stochastic_encoder`` is ALI's Gaussian encoder, z = mu(x) + sigma(x) * eps (reparameterised, so E gets
gradients through the draw); ``d_dropout`` is ALI's dropout in D (0.2 in the paper). Networks: DCGAN's G, a DCGAN
encoder (D's body + a linear head) and ``zoo.nets.bigan.JointDiscriminator``, smaller than the papers' (ImageNet /
CIFAR-10 / SVHN) ones. The exported folder ships E (``G.encode``); E is the raw encoder (no EMA), G_ema is G's EMA.
Input-gradient penalties (R1, WGAN-GP, DRAGAN) are defined on images alone, not on D's (x, z) pairs: refused.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..layers import reparameterize
from ..nets.bigan import JointDiscriminator
from ..nets.dcgan import DCGANEncoder
from ..registry import register_family
from ..regularizers import refuse_input_penalties
from .dcgan import DCGANNetworks


@register_family("bigan")
class BiGAN(DCGANNetworks, GANModule):
    generator_networks = ("G", "E")
    network_switches = ("g_dropout",)  # packing would need packed latents too

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 stochastic_encoder: bool = False, d_dropout: float = 0.0, joint_width: int = 512,
                 loss: str = "ns", **kwargs):
        if loss not in ("ns", "minimax"):
            raise InvalidArgumentError(f"BiGAN's objective is the cross-entropy of D(x, z): train it with loss 'ns' "
                                       f"or 'minimax', got {loss!r}")
        if not 0 <= d_dropout < 1:
            raise InvalidArgumentError(f"d_dropout must be in [0, 1), got {d_dropout}")
        refuse_input_penalties("BiGAN", kwargs.get("regularizers"))
        super().__init__(loss=loss, **kwargs)
        self.E = DCGANEncoder(latent_dim, width, img_channels, img_size, stochastic=stochastic_encoder)

    def build_discriminator(self) -> JointDiscriminator:
        h = self.hparams
        return JointDiscriminator(h.latent_dim, h.width, h.img_channels, h.img_size, joint_width=h.joint_width,
                                  dropout=h.d_dropout)

    def encode(self, x: Tensor) -> Tensor:
        """E(x); for ALI's Gaussian encoder a reparameterised draw from q(z | x)."""
        if self.hparams.stochastic_encoder:
            return reparameterize(*self.net("E")(x, posterior=True))
        return self.net("E")(x)

    def judge(self, x: Tensor, z: Tensor) -> Tensor:
        """D's logits for the pairs (x, z), instance noise (if on) added to the images."""
        return loss_precision(self.net("D")(self.with_instance_noise(x), z))

    def pair_scores(self, real: Tensor) -> tuple[Tensor, Tensor]:
        """(D(x, E(x)), D(G(z), z)) on a real batch and as many prior latents."""
        z, _ = self.latents(real.shape[0])
        return self.judge(real, self.encode(real)), self.judge(self.generate(z), z)

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, _ = self.latents(real.shape[0])
        with torch.no_grad():  # G and E are constants of D's loss
            fake, code = self.generate(z), self.encode(real)
        real_scores, fake_scores = self.judge(real, code), self.judge(fake, z)
        loss = self.adversarial_d_loss(real_scores, fake_scores)
        logs = {"loss/d_adv": loss.detach(), "d/real_score": real_scores.detach().mean(),
                "d/fake_score": fake_scores.detach().mean()}
        return self.discriminator_penalties(loss, logs)  # D's weight penalties (input ones are refused)

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        real_scores, fake_scores = self.pair_scores(real)
        if self.loss.name == "ns":  # the labels inverted: G wants its pairs judged real, E its pairs fake
            loss = self.loss.d_loss(fake_scores, real_scores)
        else:
            loss = -self.loss.d_loss(real_scores, fake_scores)
        return loss, {"loss/g_adv": loss.detach()}
