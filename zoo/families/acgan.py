"""ACGAN: Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017,
arXiv:1610.09585.

G(z, c) gets the class; D sees the image alone and has two heads on one body (``zoo.nets.acgan``): the source
P(S | X) and an auxiliary classifier P(C | X). With

    L_S = E[log P(S=real | X_real)] + E[log P(S=fake | X_fake)],
    L_C = E[log P(C=c | X_real)] + E[log P(C=c | X_fake)],

D maximises L_S + L_C and G maximises L_C - L_S. Here, as losses to minimise: D: adversarial D loss +
w * [CE(C(x), y) + CE(C(G(z, c)), c)]; G: adversarial G loss + w * CE(C(G(z, c)), c), with the non-saturating
G loss for the source term (``loss: ns``; the paper's -L_S saturates) and w = ``class_weight`` (1 in the paper).
``fake_class_weight`` scales D's class term on fakes (1 in the paper). At 0 the class head learns from real images
only: then D cannot learn G's own class-to-image mapping from G's labels. With the paper's 1, the fmnist recipe's G
drew a permutation of the classes (sneakers for "Dress", boots for "Coat") that D's head, trained on those fakes,
agreed with (G's class loss 0.01), while the project's classifier read a label accuracy of 0.43.
The classifier head is a by-product: ``test_accuracy()`` scores it on the Fashion-MNIST test split.
Deviations: DCGAN-style 28x28 networks (the paper's are ImageNet/CIFAR-10 sized), Adam(2e-4, 0.5), no dropout in D.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..metrics.classifier import class_accuracy
from ..nets.acgan import AuxiliaryClassifierDiscriminator
from ..registry import register_family
from .cgan import CGANNetworks


@register_family("acgan")
class ACGAN(CGANNetworks, GANModule):  # CGAN's generator; D below (a class head, no label input)
    """Args beyond the engine's: ``embed_dim`` (G's class embedding), ``class_weight`` (w above),
    ``fake_class_weight`` (the share of D's class loss taken on fakes)."""

    network_switches = ("g_dropout",)

    def __init__(self, latent_dim: int = 64, width: int = 64, num_classes: int = 10,
                 class_names: list[str] | None = None, img_channels: int = 1, img_size: int = 28,
                 embed_dim: int = 10, class_weight: float = 1.0, fake_class_weight: float = 1.0, loss: str = "ns",
                 **kwargs):
        for name, value in (("class_weight", class_weight), ("fake_class_weight", fake_class_weight)):
            if not value >= 0:
                raise InvalidArgumentError(f"{name} must be >= 0, got {value}")
        super().__init__(loss=loss, **kwargs)

    def build_discriminator(self) -> AuxiliaryClassifierDiscriminator:
        h = self.hparams
        return AuxiliaryClassifierDiscriminator(h.num_classes, h.width, h.img_channels, h.img_size)

    def scores_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """D's source scores and class logits of ``x`` (with instance noise), in the losses' precision."""
        scores, logits = self.net("D")(self.with_instance_noise(x), classes=True)
        return loss_precision(scores), loss_precision(logits)

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, y_fake = self.latents(real.shape[0])
        with torch.no_grad():
            fake = self.generate(z, y_fake)
        real_scores, real_logits = self.scores_and_logits(real)
        fake_scores, fake_logits = self.scores_and_logits(fake)
        adversarial = self.adversarial_d_loss(real_scores, fake_scores)
        class_real, class_fake = F.cross_entropy(real_logits, labels), F.cross_entropy(fake_logits, y_fake)
        h = self.hparams
        loss = adversarial + h.class_weight * (class_real + h.fake_class_weight * class_fake)
        logs = {"loss/d_adv": adversarial.detach(), "d/real_score": real_scores.detach().mean(),
                "d/fake_score": fake_scores.detach().mean(), "acgan/class_real": class_real.detach(),
                "acgan/class_fake": class_fake.detach(),
                "acgan/accuracy_real": (real_logits.detach().argmax(1) == labels).float().mean()}
        return self.discriminator_penalties(loss, logs, real, fake, labels)

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, y = self.latents(real.shape[0])
        fake_scores, fake_logits = self.scores_and_logits(self.generate(z, y))
        real_scores = None
        if self.loss.g_needs_real:
            with torch.no_grad():
                real_scores = self.scores_and_logits(real)[0]
        adversarial = self.loss.g_loss(fake_scores, real_scores)
        class_fake = F.cross_entropy(fake_logits, y)
        loss = adversarial + self.hparams.class_weight * class_fake
        return loss, {"loss/g_adv": adversarial.detach(), "acgan/g_class": class_fake.detach()}

    # ------------------------------------------------------------------ the auxiliary classifier as a classifier
    def classifier_accuracy(self, images: Tensor, labels: Tensor, batch_size: int = 1000) -> dict:
        """The class head's accuracy on ``images`` (float, in [-1, 1]) with D in eval mode:
        {"accuracy": mean over images, "per_class": [accuracy of each class], "n": count}."""
        return class_accuracy(self.D, images, labels, self.hparams.num_classes, batch_size, predict=self.D.classify)

    def test_accuracy(self, root: str | os.PathLike | None = None) -> dict:
        """``classifier_accuracy`` on the Fashion-MNIST test split (``zoo.data``; ``root`` as there)."""
        from ..data.fashion_mnist import load_fashion_mnist, to_model_range

        images, labels = load_fashion_mnist("test", root)
        return self.classifier_accuracy(to_model_range(images, self.hparams.img_size), labels)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> ACGAN:
        """The model of a training checkpoint (``runs/.../checkpoints/last.ckpt``), read with the weights-only
        loader."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        # zoo fit (LightningCLI) also saves "_class_path" / "_instantiator" beside the constructor's arguments
        model = cls(**{k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")})
        model.load_state_dict(state["state_dict"])
        return model
