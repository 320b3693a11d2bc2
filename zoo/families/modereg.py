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
zoo's defaults, not the paper's.

``variant: mdgan`` is the paper's manifold-diffusion GAN (its Algorithm 1): two discriminators, D1 (``D``) and D2
(``D2``, the same network), and two alternating steps, each a D update and a G update:

- manifold step: D1 separates x from G(E(x)); G and E minimise lambda1 d(x, G(E(x))) - lambda2 log D1(G(E(x))),
  so the reconstructions land on the data manifold;
- diffusion step: D2 separates G(E(x)) (its "real" side) from G(z); G minimises -log D2(G(z)), spreading the
  distribution of G(z) over the reconstructions, and so over the modes the manifold step found.

Here the two steps alternate by generator iteration (even: manifold, odd: diffusion; with n_critic > 1 every D step
of one G iteration belongs to the same step), so one iteration of the paper's algorithm is two G iterations of the
recipe's count. The two discriminators share D's optimizer (each step gives only its own D gradients; Adam leaves
the other untouched). D's regularizers are refused in this variant (they would apply to one discriminator only).
E ships in the exported weights folder (``encoder.safetensors``): the loaded model has ``encode(x)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..layers import running_stats_frozen
from ..nets.dcgan import DCGANEncoder
from ..registry import register_family
from .dcgan import DCGANNetworks


@register_family("modereg")
class ModeRegularizedGAN(DCGANNetworks, GANModule):
    generator_networks = ("G", "E")

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 geometric_weight: float = 1.0, mode_weight: float = 0.1, variant: str = "regularized", **kwargs):
        if kwargs.get("loss", "ns") not in ("ns", "minimax"):
            raise InvalidArgumentError("the mode-regularized GAN's mode term is -log D: train it with loss 'ns'")
        if variant not in ("regularized", "mdgan"):
            raise InvalidArgumentError(f"variant must be 'regularized' or 'mdgan' (manifold-diffusion), got "
                                       f"{variant!r}")
        if variant == "mdgan" and kwargs.get("regularizers"):
            raise InvalidArgumentError("variant 'mdgan' has two discriminators and D's regularizers would apply to "
                                       "one: drop model.regularizers")
        super().__init__(**kwargs)
        self.E = self.build_encoder()
        if variant == "mdgan":
            self.D2 = self.build_discriminator()
            self.discriminator_networks = ("D", "D2")

    def build_encoder(self) -> DCGANEncoder:
        h = self.hparams
        return DCGANEncoder(h.latent_dim, h.width, h.img_channels, h.img_size)

    def encode(self, x: Tensor) -> Tensor:
        return self.net("E")(x)

    def reconstruct(self, real: Tensor) -> Tensor:
        """G(E(x)). G's BatchNorm layers normalise this batch by its own statistics but do not fold them into their
        running statistics: E's codes are not z ~ N(0, I), and G_ema, which copies those statistics, samples from
        z. Measured on a run of the recipe at 8,210 iterations: G_ema with the mixed statistics scored an in-training
        FID of 14.1 (grey, striped grids), with statistics of G(z) alone 3.8."""
        with running_stats_frozen(self.G):
            return self.generate(self.encode(real))

    @property
    def mdgan_step(self) -> str | None:
        """MDGAN's step of the current G iteration: "manifold" (even) or "diffusion" (odd); None otherwise."""
        if self.hparams.variant != "mdgan":
            return None
        return "manifold" if self.g_iters % 2 == 0 else "diffusion"

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        step = self.mdgan_step
        if step is None:
            return super().discriminator_loss(real, labels)
        with torch.no_grad():
            reconstruction = self.reconstruct(real)
            if step == "manifold":  # D1: x real, G(E(x)) fake
                positive, negative, name = real, reconstruction, "D"
            else:  # D2: G(E(x)) real, G(z) fake
                positive, negative, name = reconstruction, self.generate(self.latents(real.shape[0])[0]), "D2"
        positive_scores = loss_precision(self.discriminate(positive, name=name))
        negative_scores = loss_precision(self.discriminate(negative, name=name))
        loss = self.adversarial_d_loss(positive_scores, negative_scores)
        return loss, {"loss/d_adv": loss.detach(), "d/real_score": positive_scores.detach().mean(),
                      "d/fake_score": negative_scores.detach().mean(),
                      "mdgan/manifold_step": torch.tensor(float(step == "manifold"))}

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        h = self.hparams
        step = self.mdgan_step
        if step == "diffusion":  # -log D2(G(z)); E takes no part
            z, _ = self.latents(real.shape[0])
            loss = self.loss.g_loss(loss_precision(self.discriminate(self.generate(z), name="D2")))
            return loss, {"loss/g_adv": loss.detach()}
        if step == "manifold":
            loss, logs = 0.0, {}
        else:
            loss, logs = super().generator_loss(real, labels)  # -log D(G(z))
        reconstruction = self.reconstruct(real)
        geometric = (reconstruction - real).pow(2).mean()
        mode = F.softplus(-loss_precision(self.discriminate(reconstruction))).mean()  # -log sigmoid(D(G(E(x))))
        logs.update({"modereg/geometric": geometric.detach(), "modereg/mode": mode.detach()})
        if step == "manifold":
            logs["loss/g_adv"] = mode.detach()
        return loss + h.geometric_weight * geometric + h.mode_weight * mode, logs
