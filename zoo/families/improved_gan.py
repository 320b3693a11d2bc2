"""Improved GAN: Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved Techniques for Training GANs",
NeurIPS 2016, arXiv:1606.03498.

Each technique is a reusable part: feature matching here (G minimises ||E_x f(x) - E_z f(G(z))||_2^2 with f D's last
convolutional features, instead of fooling D; the bundled recipe adds it to the non-saturating loss instead, a
deviation for sample quality: the paper's objective alone gave FID 7.0 here); minibatch
discrimination as a layer (``zoo.layers.MinibatchDiscrimination``, in ``zoo.nets.improved_gan``); historical
averaging as a regularizer (``zoo.regularizers.HistoricalAveraging``, ``historical_averaging`` its weight, 0 = off);
one-sided label smoothing as the engine's ``label_smoothing`` switch (``zoo.tricks``), which any minimax /
non-saturating family can set; virtual batch normalisation in G (``g_norm: virtual``,
``zoo.layers.VirtualBatchNorm``): each example normalised with the statistics of a reference batch of
``vbn_reference`` latents fixed when G is built, and its own; the paper uses it in G only, as here, because it
doubles G's forward pass. ``generator_objective`` "feature_matching" (the default), "ns" (the adversarial loss, with
D still using minibatch features) or "ns+feature_matching" (their sum, the matching term weighted by
``feature_matching_weight``; D's features of the fakes computed once for both). Networks: DCGAN's G; D = DCGAN's
body (``d_norm``) + minibatch discrimination (B = 100 kernels of dimension C = 5 as the paper's CIFAR model).

Semi-supervised learning (section 5), ``semi_supervised_labels`` N > 0: D is a classifier with K
(``semi_supervised_classes``) logits l_k, the fake class K+1's logit fixed at 0, so p(fake | x) = 1 / (Z(x) + 1)
with Z(x) = sum_k exp(l_k(x)), and the real/fake logit of the GAN loss is log Z(x) (``real_fake_logit``). D
minimises

    L = CE(l(x_lab), y_lab) + unsupervised_weight * (-E_x log(Z/(Z+1)) - E_z log(1/(Z(G(z))+1))),

the supervised cross-entropy over the K classes on a fixed, seeded subset of N/K labelled examples per class of the
training split (``zoo.data.labels.LabelledSubset``, seed ``label_seed``; a labelled batch of the real batch's size
is drawn from it with replacement every D step), and the GAN loss on the whole, unlabelled split. G trains with
feature matching, as the paper's semi-supervised models. Minibatch discrimination is refused here (the paper: it
gives better samples but not a better classifier, and it would make a test prediction depend on its batch); the
recipe sets ``d_norm: layer`` for the same reason. The classifier is D itself, stored in the run's checkpoint
(``D.*``); ``benchmarks/semi_supervised.py`` scores it on the test split beside the same network trained on the N
labels alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.labels import LabelledSubset
from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..nets.dcgan import DCGANGenerator
from ..nets.improved_gan import ImprovedGANDiscriminator
from ..registry import register_family
from ..regularizers import HistoricalAveraging


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """||mean of the real features - mean of the fake features||_2^2 (over the batch)."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


def real_fake_logit(class_logits: Tensor) -> Tensor:
    """The K+1 classifier's real/fake logit: log Z(x) = logsumexp_k l_k(x), so that sigmoid of it is
    D(x) = Z(x) / (Z(x) + 1) = 1 - p(fake | x) with the fake class's logit fixed at 0."""
    return torch.logsumexp(class_logits, dim=1)


GENERATOR_OBJECTIVES = ("feature_matching", "ns", "ns+feature_matching")


@register_family("improved-gan")
class ImprovedGAN(LabelledSubset, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 generator_objective: str = "feature_matching", minibatch_kernels: int = 100,
                 minibatch_kernel_dim: int = 5, historical_averaging: float = 0.0, g_norm: str = "batch",
                 vbn_reference: int = 64, d_norm: str = "batch", semi_supervised_labels: int = 0,
                 semi_supervised_classes: int = 10, label_seed: int = 0, unsupervised_weight: float = 1.0,
                 feature_matching_weight: float = 1.0, **kwargs):
        if generator_objective not in GENERATOR_OBJECTIVES:
            raise InvalidArgumentError(f"generator_objective must be one of {', '.join(GENERATOR_OBJECTIVES)}, got "
                                       f"{generator_objective!r}")
        if feature_matching_weight != 1.0 and generator_objective != "ns+feature_matching":
            raise InvalidArgumentError(f"feature_matching_weight weighs the matching term of generator_objective "
                                       f"'ns+feature_matching'; this model trains with {generator_objective!r}")
        if g_norm not in ("batch", "virtual"):
            raise InvalidArgumentError(f"g_norm must be 'batch' or 'virtual' (virtual batch normalisation), got "
                                       f"{g_norm!r}")
        if g_norm == "virtual" and vbn_reference < 1:
            raise InvalidArgumentError(f"g_norm 'virtual' needs a reference batch: set vbn_reference >= 1, got "
                                       f"{vbn_reference}")
        if d_norm not in ("batch", "layer", "none"):
            raise InvalidArgumentError(f"d_norm must be 'batch', 'layer' or 'none', got {d_norm!r}")
        if semi_supervised_labels:
            if semi_supervised_classes < 2 or semi_supervised_labels % semi_supervised_classes:
                raise InvalidArgumentError(f"semi_supervised_labels ({semi_supervised_labels}) must be a positive "
                                           f"multiple of semi_supervised_classes ({semi_supervised_classes} >= 2): "
                                           "the same number of labels per class")
            if minibatch_kernels:
                raise InvalidArgumentError("the semi-supervised classifier must not depend on its batch: set "
                                           "minibatch_kernels 0")
        elif semi_supervised_labels < 0:
            raise InvalidArgumentError(f"semi_supervised_labels must be >= 0, got {semi_supervised_labels}")
        regularizers = list(kwargs.pop("regularizers", ()))
        if historical_averaging:
            regularizers.append(HistoricalAveraging(historical_averaging))
        super().__init__(loss="ns", regularizers=regularizers, **kwargs)

    @property
    def semi_supervised(self) -> bool:
        return bool(self.hparams.semi_supervised_labels)

    def build_generator(self) -> DCGANGenerator:
        h = self.hparams
        return DCGANGenerator(h.latent_dim, h.width, h.img_channels, h.img_size,
                              vbn_reference=h.vbn_reference if h.g_norm == "virtual" else 0)

    def build_discriminator(self) -> ImprovedGANDiscriminator:
        h = self.hparams
        return ImprovedGANDiscriminator(h.width, h.img_channels, h.img_size, h.minibatch_kernels,
                                        h.minibatch_kernel_dim, norm=h.d_norm,
                                        num_logits=h.semi_supervised_classes if h.semi_supervised_labels else 1)

    # ------------------------------------------------------------------ the semi-supervised K+1 classifier
    def labelled_subset_spec(self) -> tuple[int, int, int]:
        h = self.hparams
        return h.semi_supervised_labels, h.semi_supervised_classes, h.label_seed

    def discriminate(self, x: Tensor, y: Tensor | None = None, noise: bool = True) -> Tensor:
        scores = super().discriminate(x, y, noise)
        return real_fake_logit(scores) if self.semi_supervised else scores

    def adversarial_d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        loss = super().adversarial_d_loss(real_scores, fake_scores)
        return self.hparams.unsupervised_weight * loss if self.semi_supervised else loss

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().discriminator_loss(real, labels)
        if not self.semi_supervised:
            return loss, logs
        images, targets = self.labelled_batch(real.shape[0])
        logits = loss_precision(self.net("D")(images))
        supervised = F.cross_entropy(logits, targets)
        logs.update({"loss/d_supervised": supervised.detach(),
                     "d/labelled_accuracy": (logits.detach().argmax(1) == targets).float().mean()})
        return loss + supervised, logs

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        if self.hparams.generator_objective == "ns":
            return super().generator_loss(real, labels)
        z, _ = self.latents(real.shape[0])
        fake_features = self.D.features(self.with_instance_noise(self.generate(z)))  # D frozen, never wrapped here
        real_features = self.D.features(self.with_instance_noise(real)).detach()
        loss = feature_matching_loss(real_features, fake_features)
        if self.hparams.generator_objective == "feature_matching":
            return loss, {"loss/g_adv": loss.detach()}
        scores = self.D.score(fake_features)
        adversarial = self.loss.g_loss(loss_precision(real_fake_logit(scores) if self.semi_supervised else scores))
        logs = {"loss/g_adv": adversarial.detach(), "improved_gan/feature_matching": loss.detach()}
        return adversarial + self.hparams.feature_matching_weight * loss, logs
