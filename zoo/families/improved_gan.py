"""Improved GAN: Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved Techniques for Training GANs",
NeurIPS 2016, arXiv:1606.03498.

Each technique is a reusable part: feature matching here (G minimises ||E_x f(x) - E_z f(G(z))||_2^2 with f D's
last convolutional features, instead of fooling D); minibatch discrimination as a layer
(``zoo.layers.MinibatchDiscrimination``, in ``zoo.nets.improved_gan``); historical averaging as a regularizer
(``zoo.regularizers.HistoricalAveraging``, ``historical_averaging`` its weight, 0 = off); one-sided label smoothing
as the engine's ``label_smoothing`` switch (``zoo.tricks``), which any minimax / non-saturating family can set;
virtual batch normalisation in G (``g_norm: virtual``, ``zoo.layers.VirtualBatchNorm``): each example normalised
with the statistics of a reference batch of ``vbn_reference`` latents fixed when G is built, and its own; the paper
uses it in G only, as here, because it doubles G's forward pass. ``generator_objective`` "feature_matching" (the
default) or "ns" (the adversarial loss, with D still using minibatch features). Networks: DCGAN's G; D = DCGAN's
body + minibatch discrimination (B = 100 kernels of dimension C = 5 as the paper's CIFAR model). Not here (yet):
the semi-supervised K+1 classifier.
"""

from __future__ import annotations

from torch import Tensor

from ..engine import GANModule
from ..errors import InvalidArgumentError
from ..nets.dcgan import DCGANGenerator
from ..nets.improved_gan import ImprovedGANDiscriminator
from ..registry import register_family
from ..regularizers import HistoricalAveraging


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """||mean of the real features - mean of the fake features||_2^2 (over the batch)."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


@register_family("improved-gan")
class ImprovedGAN(GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 generator_objective: str = "feature_matching", minibatch_kernels: int = 100,
                 minibatch_kernel_dim: int = 5, historical_averaging: float = 0.0, g_norm: str = "batch",
                 vbn_reference: int = 64, **kwargs):
        if generator_objective not in ("feature_matching", "ns"):
            raise InvalidArgumentError(f"generator_objective must be 'feature_matching' or 'ns', got "
                                       f"{generator_objective!r}")
        if g_norm not in ("batch", "virtual"):
            raise InvalidArgumentError(f"g_norm must be 'batch' or 'virtual' (virtual batch normalisation), got "
                                       f"{g_norm!r}")
        if g_norm == "virtual" and vbn_reference < 1:
            raise InvalidArgumentError(f"g_norm 'virtual' needs a reference batch: set vbn_reference >= 1, got "
                                       f"{vbn_reference}")
        regularizers = list(kwargs.pop("regularizers", ()))
        if historical_averaging:
            regularizers.append(HistoricalAveraging(historical_averaging))
        super().__init__(loss="ns", regularizers=regularizers, **kwargs)

    def build_generator(self) -> DCGANGenerator:
        h = self.hparams
        return DCGANGenerator(h.latent_dim, h.width, h.img_channels, h.img_size,
                              vbn_reference=h.vbn_reference if h.g_norm == "virtual" else 0)

    def build_discriminator(self) -> ImprovedGANDiscriminator:
        h = self.hparams
        return ImprovedGANDiscriminator(h.width, h.img_channels, h.img_size, h.minibatch_kernels,
                                        h.minibatch_kernel_dim)

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        if self.hparams.generator_objective == "ns":
            return super().generator_loss(real, labels)
        z, _ = self.latents(real.shape[0])
        fake_features = self.D.features(self.with_instance_noise(self.generate(z)))  # D frozen, never wrapped here
        real_features = self.D.features(self.with_instance_noise(real)).detach()
        loss = feature_matching_loss(real_features, fake_features)
        return loss, {"loss/g_adv": loss.detach()}
