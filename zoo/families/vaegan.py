"""VAEGAN: Larsen, Sønderby, Larochelle & Winther, "Autoencoding beyond pixels using a learned similarity metric",
ICML 2016, arXiv:1512.09300.

A VAE whose decoder is also the GAN's generator. A Gaussian encoder q(z | x) = N(mu(x), diag(sigma^2(x))) draws
z = mu + sigma * eps, the decoder G reconstructs x_rec = G(z), and the reconstruction is measured in D's l-th layer
(its last convolutional block, Dis_l) instead of in pixels: a Gaussian log-likelihood with unit variance,

    L_llike = 1/2 ||Dis_l(x) - Dis_l(x_rec)||^2   (summed over the features, averaged over the batch)
    L_prior = KL(q(z | x) || N(0, I))
    L_GAN   = log D(x) + log(1 - D(G(z_p))) + log(1 - D(x_rec)),   z_p ~ N(0, I).

The paper's update split: the encoder descends kl_weight * L_prior + L_llike; the decoder descends
gamma * L_llike plus the GAN loss on both the prior samples G(z_p) and the reconstructions; D ascends L_GAN (it
alone; the feature reconstruction never trains D). The paper prints the decoder's and D's steps as descending
-L_GAN and L_GAN, signs that contradict its own L_GAN; implemented as meant, D maximises L_GAN and the decoder
fools D with the non-saturating loss. E and G share G's optimizer (``generator_networks``, the same Adam settings);
one backward gives each network its own objective's gradient: the decoder's GAN and gamma-weighted terms are
computed on a second decoding of sg(z) (``x_rec_dec``, equal in value), so no GAN gradient and only once the
feature reconstruction's reach E.

``three_class``: the variant the sources describe (S1 Ch3-P3 2): D is a 3-way softmax over real / reconstructed
/ generated, trained with the cross-entropy, and the decoder asks for both its reconstructions and its prior samples
to be classed real; with the decoder shared, removing the difference between reconstructions and prior samples
pushes the encoded z toward the prior. Networks: DCGAN's G, a Gaussian DCGAN encoder and DCGAN's D with LayerNorm
(GroupNorm(1)) in place of BatchNorm by default, so Dis_l(x) and Dis_l(x_rec), computed in separate batches, are
not normalised by different batch statistics (``d_norm``: "layer"; "batch" is DCGAN's own D, "none" neither).
gamma (0.1) is this zoo's choice: it puts gamma * L_llike about one order above the GAN loss (FAMILIES.md D.13);
the paper trains CelebA 64x64 with RMSProp at 3e-4. The Fashion-MNIST recipe departs from both defaults, measured
there: gamma 0.001 and DCGAN's BatchNorm D (its runs with the LayerNorm D flattened above FID 6.5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..layers import reparameterize, running_stats_frozen
from ..losses import gaussian_kl
from ..nets.dcgan import DCGANEncoder
from ..nets.vaegan import FeatureDiscriminator
from ..registry import register_family
from ..regularizers import refuse_input_penalties
from .dcgan import DCGANNetworks

REAL, RECONSTRUCTED, GENERATED = 0, 1, 2  # the three-class D's classes


def feature_nll(features: Tensor, target: Tensor) -> Tensor:
    """-log N(target; features, I) up to its constant: 1/2 sum of squared differences, averaged over the batch."""
    return 0.5 * (features - target).pow(2).flatten(1).sum(1).mean()


@register_family("vaegan")
class VAEGAN(DCGANNetworks, GANModule):
    generator_networks = ("G", "E")
    network_switches = ("g_dropout",)

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 gamma: float = 0.1, kl_weight: float = 1.0, three_class: bool = False, loss: str = "ns",
                 d_norm: str = "layer", **kwargs):
        if d_norm not in ("layer", "batch", "none"):
            raise InvalidArgumentError(f"d_norm must be 'layer', 'batch' or 'none', got {d_norm!r}")
        if loss != "ns":
            raise InvalidArgumentError(f"VAEGAN's GAN term is the cross-entropy (two or three classes): train it with "
                                       f"loss 'ns', got {loss!r}")
        if gamma < 0 or kl_weight < 0:
            raise InvalidArgumentError(f"gamma and kl_weight must be >= 0, got {gamma} and {kl_weight}")
        tricks = [k for k in ("label_smoothing", "label_noise", "label_flip", "instance_noise") if kwargs.get(k)]
        if tricks:
            raise InvalidArgumentError(f"VAEGAN's discriminator losses are its own: {', '.join(tricks)} is not "
                                       f"implemented for them; leave it at 0")
        refuse_input_penalties("VAEGAN", kwargs.get("regularizers"))
        super().__init__(loss=loss, **kwargs)
        self.E = DCGANEncoder(latent_dim, width, img_channels, img_size, stochastic=True)

    def build_discriminator(self) -> FeatureDiscriminator:
        h = self.hparams
        return FeatureDiscriminator(h.width, h.img_channels, h.img_size, norm=h.d_norm,
                                    classes=3 if h.three_class else 1)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(z, mu, logvar): a reparameterised draw from q(z | x) and the posterior's parameters."""
        mu, logvar = self.net("E")(x, posterior=True)
        return reparameterize(mu, logvar), mu, logvar

    def reconstruct(self, x: Tensor) -> Tensor:
        """G(z), z ~ q(z | x). G's BatchNorm layers normalise the batch by its own statistics but keep it out of
        their running statistics, which G_ema copies and samples from z ~ N(0, I) with (as mode-regularized GAN's
        reconstructions): three of the five batches G decodes per iteration (D's step and G's) are reconstructions."""
        with running_stats_frozen(self.G):
            return self.generate(self.encode(x)[0])

    def gan_d_loss(self, real: Tensor, reconstructed: Tensor, generated: Tensor) -> Tensor:
        """-L_GAN: the cross-entropy of D on the three batches (two classes, or three with ``three_class``)."""
        if self.hparams.three_class:
            return sum(F.cross_entropy(s, torch.full((len(s),), c, device=s.device))
                       for s, c in ((real, REAL), (reconstructed, RECONSTRUCTED), (generated, GENERATED)))
        return F.softplus(-real).mean() + F.softplus(reconstructed).mean() + F.softplus(generated).mean()

    def gan_g_loss(self, reconstructed: Tensor, generated: Tensor) -> Tensor:
        """The decoder's GAN loss, non-saturating: its reconstructions and prior samples judged real."""
        if self.hparams.three_class:
            return sum(F.cross_entropy(s, torch.full((len(s),), REAL, device=s.device))
                       for s in (reconstructed, generated))
        return F.softplus(-reconstructed).mean() + F.softplus(-generated).mean()

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z_p, _ = self.latents(real.shape[0])
        with torch.no_grad():  # E and G are constants of D's loss
            reconstructed, generated = self.reconstruct(real), self.generate(z_p)
        D = self.net("D")
        scores = [loss_precision(D(x)) for x in (real, reconstructed, generated)]
        loss = self.gan_d_loss(*scores)
        as_real = (lambda s: s.softmax(1)[:, REAL]) if self.hparams.three_class else (lambda s: s)
        logs = {"loss/d_adv": loss.detach(), "d/real_score": as_real(scores[0].detach()).mean(),
                "d/fake_score": as_real(scores[2].detach()).mean(),
                "d/reconstructed_score": as_real(scores[1].detach()).mean()}
        return self.discriminator_penalties(loss, logs)  # D's weight penalties (input ones are refused)

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        h = self.hparams
        z_p, _ = self.latents(real.shape[0])
        z, mu, logvar = self.encode(real)
        with running_stats_frozen(self.G):
            reconstructed = self.generate(z)  # the encoder's path: gradient of L_llike to E (and once to G)
            reconstructed_dec = self.generate(z.detach())  # the decoder's path: E gets nothing through it
        D = self.net("D")
        with torch.no_grad():
            _, target = D(real, features=True)
        _, features = D(reconstructed, features=True)
        rec_scores, features_dec = D(reconstructed_dec, features=True)
        gen_scores = D(self.generate(z_p))
        kl = gaussian_kl(mu.float(), logvar.float())
        llike = feature_nll(loss_precision(features), loss_precision(target))
        llike_dec = feature_nll(loss_precision(features_dec), loss_precision(target))
        gan = self.gan_g_loss(loss_precision(rec_scores), loss_precision(gen_scores))
        # E: kl_weight * KL + L_llike.  G: L_llike + (gamma - 1) * L_llike + GAN = gamma * L_llike + GAN.
        loss = h.kl_weight * kl + llike + (h.gamma - 1) * llike_dec + gan
        return loss, {"loss/g_adv": gan.detach(), "vaegan/kl": kl.detach(), "vaegan/feature_nll": llike.detach()}
